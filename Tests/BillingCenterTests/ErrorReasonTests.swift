import AccountAccess
import AccountKit
import SuiteErrors
import Testing
import WorkspaceConsole

@testable import BillingCenter

/// A page tells errors apart by their `ErrorInfo` reason: within a service, two errors a caller
/// should tell apart never share one.
@Suite("Error reasons")
struct ErrorReasonTests {
  static func distinct(_ errors: [any ServiceErrorConvertible]) {
    let reasons = errors.map(\.serviceError.reason)
    #expect(Set(reasons).count == reasons.count, "shared reasons: \(reasons)")
    for reason in reasons { #expect(reason.wholeMatch(of: /[A-Z][A-Z0-9_]*/) != nil, "\(reason)") }
  }

  @Test(
    "the billing center's and the console's errors (sign-in and codes included) each have their own reason"
  )
  func ownReasons() {
    let access: [AccessError] = [
      .invalidCredentials, .loginThrottled(retryAfter: .seconds(1)), .notSignedIn,
      .challengeNotFound("c"), .codeExpired,
      .codeAlreadyUsed, .codeLocked, .wrongCode(attemptsLeft: 1),
      .resendTooSoon(retryAfter: .seconds(1)),
      .tooManyCodes(retryAfter: .seconds(1)),
    ]
    let hashing: [PasswordHasher.Failure] = [.overloaded, .hashingFailed(code: 1)]
    let billing: [BillingError] = [
      .usernameTaken, .emailTaken, .phoneTaken, .billingAccountNotFound("a"),
      .workspaceNotFound("w"),
      .cloudAccountLinkedElsewhere, .workspaceBoundElsewhere("w"),
      .alreadyBoundWithOtherSettlement("w"),
      .workspaceNotBound("w"), .subscriptionNotLinked("s"), .workspaceClosed("w"), .dayClosed("d"),
      .dayNotOver("d"),
      .dayNotClosed("d"), .unknownBillingItem("i"), .currencyNotAllowed("EUR"), .consoleUnavailable,
      .subscriptionUnknown("s"), .subscriptionEnded("s"), .workspaceSettledBySubscription("w"),
      .meteringRecordNotFound("k"), .meteringRecordDelivered("k"),
    ]
    Self.distinct(access + hashing + billing)
    let console: [ConsoleError] = [
      .usernameTaken, .emailTaken, .workspaceNotFound("w"), .workspaceClosed("w"),
    ]
    Self.distinct(access + hashing + console)
  }
}
