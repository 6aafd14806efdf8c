public import AccountAccess
public import Foundation

/// The console's accounts.
public protocol AccountStore: Sendable {
  /// Throws `ConsoleError.usernameTaken` / `.emailTaken` on a duplicate.
  func insertAccount(_ account: NewAccount) async throws -> Account
  func account(id: UUID) async throws -> Account?
  func account(email: String) async throws -> Account?
  /// By username or email (both stored lower case).
  func loginCandidate(forLogin login: String) async throws -> LoginCandidate?
  func replacePasswordHash(accountID: UUID, with hash: String) async throws
}
