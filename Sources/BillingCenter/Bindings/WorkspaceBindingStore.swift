import AccountAccess
public import Foundation

/// Workspace bindings: which billing center account pays for a workspace, and how it settles.
public protocol WorkspaceBindingStore: Sendable {
  /// Binds the workspace (idempotent for the same account and settlement), first linking the
  /// settlement's subscription to `purchaser`'s cloud account when one is given.
  func bind(
    _ workspace: DirectoryWorkspace,
    to accountID: UUID,
    settlement: Settlement,
    linking purchaser: CloudIdentity?
  )
    async throws -> WorkspaceBinding
  func bindings(billingAccountID: UUID) async throws -> [WorkspaceBinding]
  /// Ends the current binding row and opens one with the new settlement (history is kept).
  func changeSettlement(
    workspaceID: UUID,
    of accountID: UUID,
    to settlement: Settlement,
    linking purchaser: CloudIdentity?
  ) async throws -> WorkspaceBinding
  func unbind(workspaceID: UUID, from accountID: UUID) async throws
}
