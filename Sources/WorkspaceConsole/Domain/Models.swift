public import Foundation

/// A Guance account (the console's own account system).
public struct Account: Sendable, Equatable {
  public var id: UUID
  public var username: String
  public var email: String
  public var phone: String?
  public var createdAt: Date
}

/// Where a workspace stands; the subscription's life drives it.
public enum WorkspaceStatus: String, Sendable, Equatable, CaseIterable {
  case active
  case suspended
  case closed
}

/// A Guance workspace. Its site is chosen at creation and never changes.
public struct Workspace: Sendable, Equatable {
  public var id: UUID
  public var name: String
  public var language: String
  public var site: String
  public var status: WorkspaceStatus
  public var ownerAccountID: UUID
  public var createdAt: Date
}

/// A console session, as its holder may see it.
public struct ConsoleSession: Sendable, Equatable {
  public var accountID: UUID
  public var createdAt: Date
  /// The earlier of the idle and the absolute expiry.
  public var expiresAt: Date
}

/// Why an emailed code was asked for.
public enum EmailCodePurpose: String, Sendable, Equatable {
  case createWorkspace = "create_workspace"
}

/// A new account's validated fields and password hash.
public struct NewAccount: Sendable {
  public var username: String
  public var email: String
  public var phone: String?
  public var passwordHash: String
}

/// A new workspace's validated fields.
public struct WorkspaceDraft: Sendable {
  public var name: String
  public var language: String
  public var site: String
}

/// What a login needs to know about an account.
public struct StoredCredentials: Sendable {
  public var account: Account
  public var passwordHash: String
}

/// An email challenge as stored, for deciding whether a presented code is good.
public struct EmailChallengeRecord: Sendable {
  public var id: UUID
  public var email: String
  public var purpose: EmailCodePurpose
  public var accountID: UUID?
  public var codeDigest: [UInt8]
  public var expiresAt: Date
  public var attempts: Int
  public var consumedAt: Date?
}

/// The reply to a code request: the same shape whether or not the email has an account.
public struct EmailChallengeIssued: Sendable, Equatable {
  public var challengeID: UUID
  public var expiresAt: Date
  public var resendAfter: Duration
}
