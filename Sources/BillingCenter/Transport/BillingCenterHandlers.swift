import AccountAccess
import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
public import SuiteKit
package import SuiteRPC
import SwiftProtobuf

/// `guance.billing.v1.BillingCenterService`: validates and translates, nothing more.
package struct BillingCenterHandlers: Guance_Billing_V1_BillingCenterService.SimpleServiceProtocol {
  private let billing: GuanceBilling
  private let internalCredential: InternalCredential

  package init(billing: GuanceBilling, internalCredential: InternalCredential) {
    self.billing = billing
    self.internalCredential = internalCredential
  }

  private var request: RequestContext { RequestContext.current }

  /// Who is calling: a suite service (internal credential) or a billing center session.
  private func caller() async throws -> GuanceBilling.Caller {
    internalCredential.admits(request.bearerToken)
      ? .suiteService : .session(try await billing.authenticate(bearerToken: request.bearerToken))
  }

  /// The billing account this call acts for: the session's own, or any for a suite service.
  private func accountID(_ requested: String) async throws -> UUID {
    try billing.billingAccountID(requested: requested, caller: try await caller())
  }

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

  package func bindWorkspace(
    request: Guance_Billing_V1_BindWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_BindWorkspaceResponse {
    let caller = try await self.caller()
    let binding = try await billing.bindWorkspace(
      request.workspaceID,
      to: try billing.billingAccountID(requested: request.billingAccountID, caller: caller),
      settlement: request.settlement.domain,
      linking: try Self.purchaser(request.hasLinkPurchaser, request.linkPurchaser),
      caller: caller,
      ownerSession: request.workspaceOwnerSession
    )
    return .with { $0.binding = .init(binding) }
  }

  package func listBoundWorkspaces(
    request: Guance_Billing_V1_ListBoundWorkspacesRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ListBoundWorkspacesResponse {
    let bindings = try await billing.boundWorkspaces(
      of: try await accountID(request.billingAccountID)
    )
    return .with { $0.bindings = bindings.map(Guance_Billing_V1_WorkspaceBinding.init) }
  }

  package func changeSettlementMethod(
    request: Guance_Billing_V1_ChangeSettlementMethodRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ChangeSettlementMethodResponse {
    let caller = try await self.caller()
    let binding = try await billing.changeSettlement(
      request.workspaceID,
      of: try billing.billingAccountID(requested: request.billingAccountID, caller: caller),
      to: request.settlement.domain,
      linking: try Self.purchaser(request.hasLinkPurchaser, request.linkPurchaser),
      caller: caller
    )
    return .with { $0.binding = .init(binding) }
  }

  /// The purchaser to link first, when the request names one (and names it well).
  static func purchaser(
    _ present: Bool,
    _ identity: Guance_Billing_V1_CloudIdentity
  ) throws -> CloudIdentity? {
    guard present else { return nil }
    guard let purchaser = identity.domain else {
      throw ServiceError.invalid(
        field: "link_purchaser",
        "needs provider AZURE and the purchaser's tenant_id and object_id"
      )
    }
    return purchaser
  }

  package func unbindWorkspace(
    request: Guance_Billing_V1_UnbindWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_UnbindWorkspaceResponse {
    try await billing.unbind(
      request.workspaceID,
      from: try await accountID(request.billingAccountID)
    )
    return .init()
  }

  package func getDailyBill(
    request: Guance_Billing_V1_GetDailyBillRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_GetDailyBillResponse {
    let bill = try await billing.dailyBill(
      of: try await accountID(request.billingAccountID),
      day: request.day
    )
    return .with { $0.bill = .init(bill) }
  }

  package func listBills(
    request: Guance_Billing_V1_ListBillsRequest,
    context: ServerContext
  )
    async throws -> Guance_Billing_V1_ListBillsResponse
  {
    let bills = try await billing.bills(
      of: try await accountID(request.billingAccountID),
      month: request.month
    )
    return .with {
      $0.bills = bills.map(Guance_Billing_V1_DailyBill.init)
      $0.total = .init(micros: bills.reduce(0) { $0 + $1.totalMicros })
    }
  }
}
