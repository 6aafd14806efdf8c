public import Foundation
public import Mailer

/// The console's storage, one aggregate per group of methods. Multi-step changes are single
/// methods so that each runs in one transaction; decisions stay with the caller through
/// the closures and parameters they take.
public protocol ConsoleStore: Sendable {
  // MARK: Accounts

  /// Throws `ConsoleError.usernameTaken` / `.emailTaken` on a duplicate.
  func insertAccount(_ account: NewAccount) async throws -> Account
  func account(id: UUID) async throws -> Account?
  /// By username or email (both stored lower case).
  func credentials(forLogin login: String) async throws -> StoredCredentials?
  func replacePasswordHash(accountID: UUID, with hash: String) async throws

  // MARK: Workspaces

  /// Registers the account and creates its first workspace, all or nothing.
  func insertAccountAndWorkspace(_ account: NewAccount, _ workspace: WorkspaceDraft) async throws
    -> (Account, Workspace)
  /// Locks the challenge, lets `judge` decide, and either creates the workspace for the
  /// challenge's account (consuming the challenge) or records a failed attempt — in one
  /// transaction. Returns the failure `judge` chose, after committing the attempt.
  func createWorkspace(
    _ workspace: WorkspaceDraft, challengeID: UUID,
    judge: @Sendable (EmailChallengeRecord) -> ChallengeVerdict
  ) async throws -> Result<(Account, Workspace), ConsoleError>
  func workspaces(memberAccountID: UUID) async throws -> [Workspace]
  func workspace(id: UUID, memberAccountID: UUID) async throws -> Workspace?
  func workspace(id: UUID) async throws -> Workspace?
  /// Nil when there is no such workspace.
  func setWorkspaceStatus(id: UUID, to status: WorkspaceStatus, reason: String, requestID: String)
    async throws -> Workspace?

  // MARK: Email codes

  /// Under a per-address lock: applies `throttle` to the address's recent challenges, then
  /// stores the new one and queues `mail` (when there is an account with that email).
  func issueEmailChallenge(
    _ challenge: NewEmailChallenge, throttle: EmailThrottle,
    mail: @Sendable (Account) -> OutgoingMail
  ) async throws -> Result<EmailChallengeIssued, ConsoleError>

  // MARK: Sessions

  func insertSession(
    tokenDigest: [UInt8], accountID: UUID, absoluteLifetime: Duration, idleTimeout: Duration
  ) async throws -> ConsoleSession
  /// The live session for `tokenDigest`, its idle clock restarted; nil if unknown or expired.
  func touchSession(tokenDigest: [UInt8], idleTimeout: Duration) async throws -> ConsoleSession?
  func deleteSession(tokenDigest: [UInt8]) async throws

  // MARK: Login throttling

  /// Failed logins in the current hour per subject.
  func loginFailures(subjects: [String]) async throws -> [String: Int]
  func recordLoginFailure(subjects: [String]) async throws
}

/// What `createWorkspace`'s judge decides about a presented code.
public enum ChallengeVerdict: Sendable {
  case accept
  /// Refuse; `countsAsAttempt` burns one of the challenge's tries.
  case reject(ConsoleError, countsAsAttempt: Bool)
}

/// A challenge about to be stored.
public struct NewEmailChallenge: Sendable {
  public var id: UUID
  public var email: String
  public var purpose: EmailCodePurpose
  public var codeDigest: [UInt8]
  public var lifetime: Duration
}

/// How often an address may be sent codes.
public struct EmailThrottle: Sendable {
  public var resendInterval: Duration
  public var maxPerHour: Int
}
