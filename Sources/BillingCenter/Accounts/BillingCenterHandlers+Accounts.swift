import AccountAccess
import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SuiteKit
import SwiftProtobuf

/// The account RPCs of `BillingCenterService`.
extension BillingCenterHandlers {
  package func registerBillingAccount(
    request: Guance_Billing_V1_RegisterBillingAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_RegisterBillingAccountResponse {
    let account = try await billing.register(
      .init(
        username: request.username,
        password: request.password,
        email: request.email,
        phone: request.phone,
        company: CompanyInfo(
          companyName: request.company.companyName,
          industry: request.company.industry,
          region: request.company.region,
          contactName: request.company.contactName,
          description: request.company.description_p
        ),
        creationKey: request.creationKey
      )
    )
    return .with { $0.billingAccount = .init(account) }
  }

  package func login(
    request: Guance_Billing_V1_LoginRequest,
    context: ServerContext
  ) async throws
    -> Guance_Billing_V1_LoginResponse
  {
    let opened = try await billing.login(
      login: request.login,
      password: request.password,
      peer: self.request.peer
    )
    return .with {
      $0.sessionToken = opened.token
      $0.expiresAt = Google_Protobuf_Timestamp(date: opened.session.expiresAt)
      $0.billingAccount = .init(opened.account)
    }
  }

  package func logout(
    request: Guance_Billing_V1_LogoutRequest,
    context: ServerContext
  ) async throws
    -> Guance_Billing_V1_LogoutResponse
  {
    try await billing.logout(bearerToken: self.request.bearerToken)
    return .init()
  }

  package func getBillingAccount(
    request: Guance_Billing_V1_GetBillingAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_GetBillingAccountResponse {
    let account = try await billing.account(id: try await accountID(request.billingAccountID))
    return .with { $0.billingAccount = .init(account) }
  }

  package func listCloudAccounts(
    request: Guance_Billing_V1_ListCloudAccountsRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ListCloudAccountsResponse {
    let accounts = try await billing.cloudAccounts(
      of: try await accountID(request.billingAccountID)
    )
    return .with { $0.cloudAccounts = accounts.map(Guance_Billing_V1_CloudAccount.init) }
  }

  package func startBindingVerification(
    request: Guance_Billing_V1_StartBindingVerificationRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_StartBindingVerificationResponse {
    let (issued, masked) = try await billing.startBindingVerification(username: request.username)
    return .with {
      $0.challengeID = issued.challengeID.uuidString.lowercased()
      $0.maskedEmail = masked
      $0.expiresAt = Google_Protobuf_Timestamp(date: issued.expiresAt)
      $0.resendAfterSeconds = Int32(issued.resendAfter.components.seconds)
    }
  }
}
