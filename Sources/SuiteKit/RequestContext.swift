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
  /// left of the caller's deadline less `hopMargin` when that comes sooner, so work the caller
  /// has given up on stops down the line instead of running on (gRPC's deadline propagation).
  /// Past that, the least there is: the call fails at once with DEADLINE_EXCEEDED.
  public func callTimeout(_ timeout: Duration) -> Duration {
    guard let deadline else { return timeout }
    let left = ContinuousClock.now.duration(to: deadline) - Self.hopMargin
    return max(.nanoseconds(1), min(timeout, left))
  }

  /// Kept back from what is left of a deadline when it is passed on to a call. `grpc-timeout`
  /// is relative, so the callee's deadline starts when the call reaches it, later than the
  /// caller's by the time in transit; and a COMMIT the callee sends just in time lands a round
  /// trip later. Without a margin, 6 of 568 rows in 200 trials of a 300 ms deadline were
  /// committed after their caller had given up, by up to 6.2 ms (scripts/deadline_trials.py).
  public static let hopMargin: Duration = .milliseconds(10)

  /// Kept back from what is left of a deadline for a write to land: a COMMIT, or a statement
  /// outside a transaction, is not sent with less than this left (`deadlinePassedError`).
  public static let commitReserve: Duration = .milliseconds(5)

  /// `DeadlinePassed` (DEADLINE_EXCEEDED to the caller) once the caller's deadline has
  /// passed, or once less than `reserve` is left of it; nil before, or with no deadline. A
  /// statement is not sent and a transaction not committed then: the caller has been told the
  /// RPC failed, so nothing it asked for may land afterwards.
  public func deadlinePassedError(
    now: ContinuousClock.Instant = .now,
    reserve: Duration = Self.commitReserve
  ) -> DeadlinePassed? {
    guard let deadline, now + reserve >= deadline else { return nil }
    return DeadlinePassed()
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

/// The caller's deadline passed, or left too little for a write to land in time: nothing was
/// written. The RPC layer answers it DEADLINE_EXCEEDED (`ErrorMappingInterceptor`).
public struct DeadlinePassed: Error, Sendable, CustomStringConvertible {
  public init() {}

  public var description: String {
    "the deadline passed, or was too close to write in time; nothing was written"
  }
}
