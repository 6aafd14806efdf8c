public import Logging
public import SuiteKit

extension RequestContext {
  /// The context of an RPC a test stands in for (as the server would bind it around a
  /// handler): its method, request id and deadline, from a local caller with no token.
  public static func serving(
    _ rpc: String,
    requestID: String = "test",
    deadline: ContinuousClock.Instant? = nil,
    logger: Logger = Logger(label: "test")
  ) -> RequestContext {
    RequestContext(
      requestID: requestID,
      bearerToken: nil,
      peer: "127.0.0.1",
      rpc: rpc,
      deadline: deadline,
      logger: logger
    )
  }
}
