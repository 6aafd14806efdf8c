import AccountAccess
import AccountKit
public import Foundation
import Mailer
import SuiteErrors

/// Workspace bindings: which account pays for a workspace, and how it settles.
extension GuanceBilling {

  /// Binds the workspace to the account. A billing center user proves that it controls the
  /// workspace with a console session of the workspace's owner (`ownerSession`): a workspace
  /// it cannot prove it controls is not found, exactly as an unknown id is (an id is no
  /// secret). The suite's services have checked control themselves (the activation binds the
  /// workspace it created for its buyer). With `purchaser` (cloud settlement, suite services
  /// only), the settlement's subscription is first linked to that purchaser's cloud account,
  /// in the same transaction: the activation flow's one call.
  public func bindWorkspace(
    _ rawWorkspace: String,
    to accountID: UUID,
    settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil,
    caller: Caller = .suiteService,
    ownerSession rawOwnerSession: String = ""
  ) async throws -> WorkspaceBinding {
    let workspaceID = try Self.workspaceID(rawWorkspace)
    let settlement = try Self.require(settlement, linking: purchaser)
    let ownerSession = try Self.ownerSession(rawOwnerSession, linking: purchaser, caller: caller)
    _ = try await account(id: accountID)
    guard let workspace = try await directory.workspace(id: workspaceID, ownerSession: ownerSession)
    else {
      throw BillingError.workspaceNotFound(rawWorkspace)
    }
    guard workspace.status != .closed else { throw BillingError.workspaceClosed(rawWorkspace) }
    if case .cloudAccount = settlement, catalog.currency != "USD" {
      throw BillingError.currencyNotAllowed(catalog.currency)
    }
    var binding = try await store.bind(
      workspace,
      to: accountID,
      settlement: settlement,
      linking: purchaser
    )
    binding.status = workspace.status
    return binding
  }

  /// The account's workspaces with their current status from the console.
  public func boundWorkspaces(of accountID: UUID) async throws -> [WorkspaceBinding] {
    _ = try await account(id: accountID)
    let bindings = try await store.bindings(billingAccountID: accountID)
    let directory = self.directory
    return try await withThrowingTaskGroup(of: (Int, DirectoryWorkspace?).self) { group in
      for (index, binding) in bindings.enumerated() {
        group.addTask { (index, try await directory.workspace(id: binding.workspaceID)) }
      }
      var result = bindings
      for try await (index, workspace) in group {
        result[index].status = workspace?.status ?? .closed
        if let workspace { result[index].workspaceName = workspace.name }
      }
      return result
    }
  }

  /// Changes how the workspace is paid for; `purchaser` as in `bindWorkspace`.
  public func changeSettlement(
    _ rawWorkspace: String,
    of accountID: UUID,
    to settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil,
    caller: Caller = .suiteService
  ) async throws -> WorkspaceBinding {
    let workspaceID = try Self.workspaceID(rawWorkspace)
    let settlement = try Self.require(settlement, linking: purchaser)
    try Self.refuseLinking(purchaser, by: caller)
    return try await store.changeSettlement(
      workspaceID: workspaceID,
      of: accountID,
      to: settlement,
      linking: purchaser
    )
  }

  public func unbind(_ rawWorkspace: String, from accountID: UUID) async throws {
    try await store.unbind(workspaceID: try Self.workspaceID(rawWorkspace), from: accountID)
  }
}
