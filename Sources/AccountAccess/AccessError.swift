public import SuiteErrors

/// What signing in and emailed codes refuse; the same for every account system of the suite.
public enum AccessError: Error, Equatable {
  /// Wrong login or password (one answer for both, so accounts cannot be discovered).
  case invalidCredentials
  case loginThrottled(retryAfter: Duration)
  /// No session token, or an unknown or expired one.
  case notSignedIn
  case challengeNotFound(String)
  case codeExpired
  case codeAlreadyUsed
  case codeLocked
  case wrongCode(attemptsLeft: Int)
  case resendTooSoon(retryAfter: Duration)
  case tooManyCodes(retryAfter: Duration)
}

extension AccessError: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .invalidCredentials:
      ServiceError(.unauthenticated, reason: "INVALID_CREDENTIALS", "wrong login or password")
    case .loginThrottled(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter),
        reason: "LOGIN_THROTTLED",
        "too many failed logins; try again later"
      )
    case .notSignedIn:
      ServiceError(
        .unauthenticated,
        reason: "NOT_SIGNED_IN",
        "sign in first: send the session token as 'authorization: Bearer <token>'"
      )
    case .challengeNotFound(let id):
      ServiceError(
        .notFound(resourceType: "email_challenge", name: id),
        "no verification code was sent for this challenge"
      )
    case .codeExpired:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        reason: "CODE_EXPIRED",
        "the verification code has expired; ask for a new one"
      )
    case .codeAlreadyUsed:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        reason: "CODE_ALREADY_USED",
        "the verification code has already been used; ask for a new one"
      )
    case .codeLocked:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        reason: "CODE_LOCKED",
        "too many wrong codes; ask for a new one"
      )
    case .wrongCode(let attemptsLeft):
      .invalid(field: "code", "the verification code is wrong (\(attemptsLeft) tries left)")
        .because("WRONG_CODE")
    case .resendTooSoon(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter),
        reason: "CODE_RESEND_TOO_SOON",
        "a code was sent moments ago; wait before asking for another"
      )
    case .tooManyCodes(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter),
        reason: "TOO_MANY_CODES",
        "too many codes were sent; try again later"
      )
    }
  }
}
