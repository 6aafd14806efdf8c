public import SuiteErrors

/// The one place where console errors get their gRPC meaning.
extension ConsoleError: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .usernameTaken:
      ServiceError(.alreadyExists(field: "username"), "this username is already taken")
    case .emailTaken:
      ServiceError(.alreadyExists(field: "email"), "an account with this email already exists")
    case .invalidCredentials:
      ServiceError(.unauthenticated, "wrong username, email or password")
    case .loginThrottled(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter), "too many failed logins; try again later")
    case .notSignedIn:
      ServiceError(
        .unauthenticated,
        "sign in first: send the session token as 'authorization: Bearer <token>'")
    case .workspaceNotFound(let id):
      ServiceError(.notFound(resourceType: "workspace", name: id), "workspace \(id) not found")
    case .challengeNotFound(let id):
      ServiceError(
        .notFound(resourceType: "email_challenge", name: id),
        "no verification code was sent for this challenge and email")
    case .codeExpired:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        "the verification code has expired; ask for a new one")
    case .codeAlreadyUsed:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        "the verification code has already been used; ask for a new one")
    case .codeLocked:
      ServiceError(
        .failedPrecondition(type: "EMAIL_CODE", subject: "code"),
        "too many wrong codes; ask for a new one")
    case .wrongCode(let attemptsLeft):
      .invalid(field: "code", "the verification code is wrong (\(attemptsLeft) tries left)")
    case .resendTooSoon(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter),
        "a code was sent moments ago; wait before asking for another")
    case .tooManyCodes(let retryAfter):
      ServiceError(
        .resourceExhausted(retryAfter: retryAfter),
        "too many codes were sent to this address; try again later")
    case .workspaceClosed(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_STATUS", subject: "workspace/\(id)"),
        "the workspace is closed and cannot change status")
    }
  }
}
