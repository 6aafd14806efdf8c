import AccountAccess
public import Foundation

/// The console's workspaces (and the account a registration creates with its first one).
public protocol WorkspaceStore: Sendable {
  /// Registers the account and creates its first workspace, all or nothing.
  func insertAccountAndWorkspace(
    _ account: NewAccount,
    _ workspace: WorkspaceDraft
  ) async throws
    -> (Account, Workspace)
  /// Creates the workspace for the account the code was mailed to, consuming the code, in
  /// one transaction; a wrong code is counted and refused.
  func createWorkspace(
    _ workspace: WorkspaceDraft,
    redeeming: CodeRedemption
  ) async throws
    -> (Account, Workspace)
  /// The workspace created with this creation key, with its owner.
  func workspace(createdWith key: String) async throws -> (Account, Workspace)?
  func workspaces(memberAccountID: UUID) async throws -> [Workspace]
  func workspace(id: UUID, memberAccountID: UUID) async throws -> Workspace?
  func workspace(id: UUID) async throws -> Workspace?
  /// Nil when there is no such workspace. `change` is asked, with the row locked, whether the
  /// status it holds then moves to `status` (false: the workspace is returned as it is; a
  /// throw refuses), so the rule holds against concurrent changes.
  func setWorkspaceStatus(
    id: UUID,
    to status: WorkspaceStatus,
    reason: String,
    requestID: String,
    change: @Sendable (_ current: WorkspaceStatus) throws -> Bool
  ) async throws -> Workspace?
}
