import AccountAccess
import AccountKit
import Foundation
import GRPCCore
import GuanceContracts
import SuiteErrors
package import SuiteKit
import SwiftProtobuf

/// `guance.billing.v1.BillingCenterService`: validates and translates, nothing more.
package struct BillingCenterHandlers: Guance_Billing_V1_BillingCenterService.SimpleServiceProtocol {
  let billing: GuanceBilling
  let internalCredential: InternalCredential

  package init(billing: GuanceBilling, internalCredential: InternalCredential) {
    self.billing = billing
    self.internalCredential = internalCredential
  }

  var request: RequestContext { RequestContext.current }

  /// Who is calling: a suite service (internal credential) or a billing center session.
  func caller() async throws -> GuanceBilling.Caller {
    internalCredential.admits(request.bearerToken)
      ? .suiteService : .session(try await billing.authenticate(bearerToken: request.bearerToken))
  }

  /// The billing account this call acts for: the session's own, or any for a suite service.
  func accountID(_ requested: String) async throws -> UUID {
    try billing.billingAccountID(requested: requested, caller: try await caller())
  }

}
