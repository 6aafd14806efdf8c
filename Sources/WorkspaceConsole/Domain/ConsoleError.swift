import Foundation
import SuiteErrors

/// Everything the console refuses, in its own words; mapped to the wire in one place
/// (`ConsoleError+ServiceError.swift`).
public enum ConsoleError: Error, Equatable {
  case usernameTaken
  case emailTaken
  /// Wrong login or password (one answer for both, so accounts cannot be discovered).
  case invalidCredentials
  case loginThrottled(retryAfter: Duration)
  /// No session token, or an unknown or expired one.
  case notSignedIn
  case workspaceNotFound(String)
  case challengeNotFound(String)
  case codeExpired
  case codeAlreadyUsed
  case codeLocked
  case wrongCode(attemptsLeft: Int)
  case resendTooSoon(retryAfter: Duration)
  case tooManyCodes(retryAfter: Duration)
  case workspaceClosed(String)
}
