public import AccountAccess
public import Foundation

/// The console's accounts and workspaces. Multi-step changes are single methods so that each
/// runs in one transaction. (Sessions and codes live in `AccountAccess`.)
public protocol ConsoleStore: Sendable {
  // MARK: Accounts

  /// Throws `ConsoleError.usernameTaken` / `.emailTaken` on a duplicate.
  func insertAccount(_ account: NewAccount) async throws -> Account
  func account(id: UUID) async throws -> Account?
  func account(email: String) async throws -> Account?
  /// By username or email (both stored lower case).
  func loginCandidate(forLogin login: String) async throws -> LoginCandidate?
  func replacePasswordHash(accountID: UUID, with hash: String) async throws

  // MARK: Workspaces

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
