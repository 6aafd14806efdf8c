/// Why a marketplace call failed, in the marketplace's terms.
public enum MarketplaceError: Error, Equatable, CustomStringConvertible {
  /// 400: the marketplace refused the request (bad token, wrong plan, wrong state...).
  case badRequest(code: String, message: String)
  case unauthorized(String)
  /// 403: usually the app id does not match the offer's technical configuration.
  case forbidden(String)
  case notFound(String)
  case conflict(String)
  /// 5xx or 429 after the retries ran out.
  case unavailable(status: Int, message: String)
  /// No answer (connection refused, timeout) after the retries ran out.
  case transport(String)
  /// An answer we could not read.
  case malformedResponse(String)

  public var description: String {
    switch self {
    case .badRequest(let code, let message): "marketplace refused the request (\(code)): \(message)"
    case .unauthorized(let message): "marketplace: unauthorized: \(message)"
    case .forbidden(let message): "marketplace: forbidden: \(message)"
    case .notFound(let message): "marketplace: not found: \(message)"
    case .conflict(let message): "marketplace: conflict: \(message)"
    case .unavailable(let status, let message):
      "marketplace unavailable (HTTP \(status)): \(message)"
    case .transport(let message): "marketplace unreachable: \(message)"
    case .malformedResponse(let message): "unreadable marketplace answer: \(message)"
    }
  }

  /// Worth another try with the same request.
  public var isTransient: Bool {
    switch self {
    case .unavailable, .transport: true
    default: false
    }
  }
}
