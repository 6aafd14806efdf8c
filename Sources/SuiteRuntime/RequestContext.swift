public import Logging

/// What the runtime knows about the RPC being served, available to handlers and the domain
/// code they call without threading it through every signature.
public struct RequestContext: Sendable {
  /// From the caller's `x-request-id` metadata when it is sane, otherwise generated.
  public var requestID: String
  /// The bearer token from the `authorization` metadata, if any.
  public var bearerToken: String?
  /// The caller's address without its port ("127.0.0.1"), for per-peer throttling.
  public var peer: String
  /// A logger carrying the request id.
  public var logger: Logger

  public init(requestID: String, bearerToken: String?, peer: String, logger: Logger) {
    self.requestID = requestID
    self.bearerToken = bearerToken
    self.peer = peer
    self.logger = logger
  }

  /// The context of the RPC this task serves; a background context outside any RPC.
  @TaskLocal public static var current = RequestContext(
    requestID: "background", bearerToken: nil, peer: "local",
    logger: Logger(label: "guance.background"))
}
