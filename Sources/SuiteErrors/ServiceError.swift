/// A field of a request that failed validation, named by its proto field path.
public struct FieldViolation: Sendable, Hashable {
  public var field: String
  public var description: String

  public init(field: String, description: String) {
    self.field = field
    self.description = description
  }
}

/// An error every service can raise, in transport terms; each service maps its own domain
/// errors to one of these in a single extension (`…Error+ServiceError.swift`), and the runtime's
/// error interceptor turns it into a gRPC status with `google.rpc` details.
public struct ServiceError: Error, Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    /// INVALID_ARGUMENT with `BadRequest` field violations.
    case invalidArgument([FieldViolation])
    /// NOT_FOUND with `ResourceInfo`.
    case notFound(resourceType: String, name: String)
    /// ALREADY_EXISTS with a `BadRequest` violation on the duplicate field.
    case alreadyExists(field: String)
    /// FAILED_PRECONDITION with a `PreconditionFailure` violation.
    case failedPrecondition(type: String, subject: String)
    /// RESOURCE_EXHAUSTED, with `RetryInfo` when the caller can tell when to come back.
    case resourceExhausted(retryAfter: Duration?)
    /// UNAUTHENTICATED: missing, unknown or expired credentials.
    case unauthenticated
    /// PERMISSION_DENIED: authenticated, but not for this.
    case permissionDenied
    /// UNAVAILABLE: a dependency is down; retrying later may work.
    case unavailable
    /// INTERNAL: the service itself is misconfigured (e.g. refused by a dependency for its
    /// credentials); the caller cannot fix it and retrying will not help until it is fixed.
    case misconfigured
  }

  public var kind: Kind
  /// Safe to show to the caller: never contains SQL, stack traces or secrets.
  public var message: String
  /// What went wrong as one stable UPPER_SNAKE word (`google.rpc.ErrorInfo.reason`): a page
  /// maps it to its own text in its own language, where the message is English for people.
  /// Two errors a caller should tell apart never share one.
  public var reason: String

  /// `reason` defaults to what `kind` already says (e.g. `WORKSPACE_NOT_FOUND`,
  /// `USERNAME_TAKEN`); errors that share a kind name their own.
  public init(_ kind: Kind, reason: String? = nil, _ message: String) {
    self.kind = kind
    self.message = message
    self.reason = reason ?? kind.defaultReason
  }

  public static func invalid(_ violations: [FieldViolation]) -> ServiceError {
    let summary = violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
    return ServiceError(.invalidArgument(violations), "invalid request: \(summary)")
  }

  public static func invalid(field: String, _ description: String) -> ServiceError {
    invalid([FieldViolation(field: field, description: description)])
  }

  /// The same error with its own reason.
  public func because(_ reason: String) -> ServiceError {
    var error = self
    error.reason = reason
    return error
  }
}

extension ServiceError.Kind {
  /// The reason an error of this kind has unless it names its own.
  public var defaultReason: String {
    switch self {
    case .invalidArgument: "INVALID_FIELDS"
    case .notFound(let resourceType, _): "\(Self.upperSnake(resourceType))_NOT_FOUND"
    case .alreadyExists(let field):
      "\(Self.upperSnake(field.split(separator: ".").last.map(String.init) ?? field))_TAKEN"
    case .failedPrecondition(let type, _): Self.upperSnake(type)
    case .resourceExhausted: "RATE_LIMITED"
    case .unauthenticated: "UNAUTHENTICATED"
    case .permissionDenied: "PERMISSION_DENIED"
    case .unavailable: "UNAVAILABLE"
    case .misconfigured: "MISCONFIGURED"
    }
  }

  /// `email_challenge` → `EMAIL_CHALLENGE`: letters and digits upper-cased, anything else `_`.
  public static func upperSnake(_ text: String) -> String {
    String(text.uppercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
  }
}

/// A domain error that knows which `ServiceError` it is on the wire.
public protocol ServiceErrorConvertible: Error {
  var serviceError: ServiceError { get }
}

/// An error of a library some of whose cases are the caller's to see (a lost database
/// connection: UNAVAILABLE, to be retried) and the rest faults of the service's (nil: INTERNAL).
public protocol PartlyServiceErrorConvertible: Error {
  var serviceErrorIfExpected: ServiceError? { get }
}

extension ServiceError: ServiceErrorConvertible {
  public var serviceError: ServiceError { self }
}

extension String {
  /// Whether this is `length` bytes of printable ASCII, no spaces: what the suite accepts as an
  /// identifier, key or token from outside (safe to log, store and compare).
  public func isPrintableASCII(length: ClosedRange<Int>) -> Bool {
    length.contains(utf8.count) && utf8.allSatisfy { (0x21...0x7E).contains($0) }
  }

  /// Whether it holds a Unicode control character (NUL, line breaks, escapes …) other than
  /// `allowed`: what free text from outside may not carry into storage or logs.
  public func containsControlCharacters(except allowed: Unicode.Scalar? = nil) -> Bool {
    unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != allowed }
  }
}
