public import Foundation

/// Where the billing center learns about workspaces: the console, which owns them.
public protocol WorkspaceDirectory: Sendable {
  /// Nil when the console has no such workspace or, given `ownerSession` (a console session
  /// token), when that session's account does not own it; throws
  /// `BillingError.consoleUnavailable` when the console cannot be asked.
  func workspace(id: UUID, ownerSession: String?) async throws -> DirectoryWorkspace?
}

extension WorkspaceDirectory {
  /// Any workspace, whoever owns it.
  public func workspace(id: UUID) async throws -> DirectoryWorkspace? {
    try await workspace(id: id, ownerSession: nil)
  }
}
