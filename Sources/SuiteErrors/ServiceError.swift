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

  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  public static func invalid(_ violations: [FieldViolation]) -> ServiceError {
    let summary = violations.map { "\($0.field): \($0.description)" }.joined(separator: "; ")
    return ServiceError(.invalidArgument(violations), "invalid request: \(summary)")
  }

  public static func invalid(field: String, _ description: String) -> ServiceError {
    invalid([FieldViolation(field: field, description: description)])
  }
}

/// A domain error that knows which `ServiceError` it is on the wire.
public protocol ServiceErrorConvertible: Error {
  var serviceError: ServiceError { get }
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
}
