import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// The cloud account RPCs of `BillingInternalService`.
extension BillingInternalHandlers {
  package func findBillingAccountByCloudAccount(
    request: Guance_Billing_V1_FindBillingAccountByCloudAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_FindBillingAccountByCloudAccountResponse {
    let found = try await billing.findByCloudIdentity(request.identity.domain)
    return .with {
      if let (cloud, account) = found {
        $0.billingAccount = .init(account)
        $0.cloudAccount = .init(cloud)
      }
    }
  }

  package func linkCloudAccount(
    request: Guance_Billing_V1_LinkCloudAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_LinkCloudAccountResponse {
    let accountID = try billing.billingAccountID(
      requested: request.billingAccountID,
      caller: .suiteService
    )
    let cloud = try await billing.linkCloudAccount(
      request.identity.domain,
      to: accountID,
      subscriptionID: request.marketplaceSubscriptionID
    )
    return .with { $0.cloudAccount = .init(cloud) }
  }

  package func confirmBinding(
    request: Guance_Billing_V1_ConfirmBindingRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ConfirmBindingResponse {
    let (account, cloud) = try await billing.confirmBinding(
      challengeID: request.challengeID,
      code: request.code,
      username: request.username,
      identity: request.identity.domain,
      subscriptionID: request.marketplaceSubscriptionID
    )
    return .with {
      $0.billingAccount = .init(account)
      $0.cloudAccount = .init(cloud)
    }
  }
}
