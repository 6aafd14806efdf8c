import AccountAccess
import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SuiteKit
import SwiftProtobuf

/// The workspace binding RPCs of `BillingCenterService`.
extension BillingCenterHandlers {
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
}
