public import GRPCCore
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
  /// The RPC's full method name ("package.Service/Method"); empty outside any RPC.
  public var rpc: String
  /// When the caller stops waiting (its `grpc-timeout`); nil when it named no deadline.
  public var deadline: ContinuousClock.Instant?
  /// The service's logger. Lines logged while serving an RPC — through this or any other
  /// logger — carry its request id and method (`metadataProvider`).
  public var logger: Logger

  public init(
    requestID: String,
    bearerToken: String?,
    peer: String,
    rpc: String,
    deadline: ContinuousClock.Instant? = nil,
    logger: Logger
  ) {
    self.requestID = requestID
    self.bearerToken = bearerToken
    self.peer = peer
    self.rpc = rpc
    self.deadline = deadline
    self.logger = logger
  }

  /// The deadline of a call made while serving this RPC: the call's own `timeout`, or what is
  /// left of the caller's deadline when that comes sooner, so work the caller has given up on
  /// stops down the line instead of running on (gRPC's deadline propagation). Past the
  /// deadline, the least there is: the call fails at once with DEADLINE_EXCEEDED.
  public func callTimeout(_ timeout: Duration) -> Duration {
    guard let deadline else { return timeout }
    return max(.nanoseconds(1), min(timeout, ContinuousClock.now.duration(to: deadline)))
  }

  /// DEADLINE_EXCEEDED once the caller's deadline has passed; nil before it, or with none. A
  /// statement is not sent and a transaction not committed past it: the caller has been told
  /// the RPC failed, so nothing it asked for may land afterwards.
  public func deadlinePassedError(now: ContinuousClock.Instant = .now) -> RPCError? {
    guard let deadline, now >= deadline else { return nil }
    return RPCError(
      code: .deadlineExceeded,
      message: "the deadline passed before the work was done; nothing was written"
    )
  }

  /// The context of the RPC this task serves; a background context outside any RPC.
  @TaskLocal public static var current = RequestContext(
    requestID: "background",
    bearerToken: nil,
    peer: "local",
    rpc: "",
    logger: Logger(label: "guance.background")
  )

  /// Adds the current RPC's request id and method to every log line, when the line is
  /// written: cheaper than a logger per RPC, whose metadata the stream handler would render
  /// again on every change.
  /// With tracing on, the current span's trace and span ids too (`Traces`).
  public static let metadataProvider = Logger.MetadataProvider {
    let context = RequestContext.current
    var fields = Traces.currentLogFields
    guard !context.rpc.isEmpty else { return fields }
    fields["request-id"] = .string(context.requestID)
    fields["rpc"] = .string(context.rpc)
    return fields
  }
}
