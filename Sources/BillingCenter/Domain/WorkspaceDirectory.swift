public import Foundation

/// Where the billing center learns about workspaces: the console, which owns them.
public protocol WorkspaceDirectory: Sendable {
  /// Nil when the console has no such workspace; throws `BillingError.consoleUnavailable`
  /// when it cannot be asked.
  func workspace(id: UUID) async throws -> DirectoryWorkspace?
}
