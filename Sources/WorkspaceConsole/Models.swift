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
  /// The caller's key for this creation; a retry with it finds the first creation's workspace.
  public var creationKey: String?
}

/// A code presented to unlock something for the account that owns `email`.
public struct CodeRedemption: Sendable {
  public var challengeID: UUID
  public var code: String
  public var email: String
  public var purpose: EmailCodePurpose
}
