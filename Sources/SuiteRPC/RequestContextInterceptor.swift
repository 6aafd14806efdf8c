public import GRPCCore
public import Logging
import Metrics
import SuiteErrors
import SuiteKit
public import SuiteTransport
import Synchronization

/// Outermost interceptor: gives each RPC its request id, bearer token and peer (as
/// `RequestContext.current`), echoes the request id back, and records per-method metrics
/// and one log line per failed RPC.
public struct RequestContextInterceptor: ServerInterceptor {
  private let logger: Logger
  private let trustedProxies: TrustedProxies

  public init(logger: Logger, trustedProxies: TrustedProxies = .noProxies) {
    self.logger = logger
    self.trustedProxies = trustedProxies
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    // The envelope's deadline race runs `next` in a child task that ends before this returns.
    await withoutActuallyEscaping(next) { next in
      await RPCEnvelope.serve(
        InterceptedRPC(request: request, context: context, next: next),
        named: context.descriptor.fullyQualifiedMethod,
        metadata: request.metadata,
        peer: Peer.host(of: context.remotePeer),
        logger: logger,
        trustedProxies: trustedProxies,
        metrics: Self.metrics.method(context.descriptor.fullyQualifiedMethod)
      )
    }
  }

  /// What the RPC's handler and the code it calls see as `RequestContext.current`; `peer` is
  /// the TCP peer's host (`Peer.host(of:)`), which `trustedProxies` may replace by the address it
  /// forwarded for; `rpc` the full method name.
  static func requestContext(
    metadata: Metadata,
    peer: String,
    rpc: String,
    logger: Logger,
    trustedProxies: TrustedProxies
  ) -> RequestContext {
    RequestContext(
      requestID: requestID(from: metadata),
      bearerToken: bearerToken(from: metadata),
      peer: trustedProxies.caller(peer: peer, forwardedFor: metadata.first("x-forwarded-for")),
      rpc: rpc,
      deadline: GRPCTimeout.duration(metadata.first("grpc-timeout")).map {
        ContinuousClock.now + $0
      },
      logger: logger
    )
  }

  static func recordFailure(
    _ error: RPCError,
    of request: RequestContext,
    in metrics: RPCMetrics.Method,
    since started: ContinuousClock.Instant
  ) {
    let code = Status.Code(error.code)
    metrics.record(code, since: started)
    // Once per failed RPC: at error when the fault is the server's (what HTTP would answer
    // with a 5xx), at warning when it is the request's. The request id and method come with
    // every line (`RequestContext.metadataProvider`), but this may be logged outside the task
    // that served the RPC.
    request.logger.log(
      level: code.isServerFault ? .error : .warning,
      "rpc failed",
      metadata: [
        "grpc-code": "\(code)", "grpc-message": "\(error.message)",
        "request-id": "\(request.requestID)", "rpc": "\(request.rpc)",
      ]
    )
  }

  /// Every server's per-method metrics (the metrics system is process-wide too).
  static let metrics = RPCMetrics()

  /// Accepts a caller's request id only when it is short and printable, so it is safe to log.
  static func requestID(from metadata: Metadata) -> String {
    if let given = metadata.first("x-request-id"), given.isPrintableASCII(length: 1...128) {
      return given
    }
    return RequestIDs.next()
  }

  /// The token of an `authorization: Bearer <token>` header (scheme in any case, spaces and
  /// tabs around the token ignored). Read byte by byte: it runs on every RPC, and Foundation's
  /// trimming and lowercasing cost more than the rest of this interceptor together.
  static func bearerToken(from metadata: Metadata) -> String? {
    guard let value = metadata.first("authorization") else {
      return nil
    }
    let bytes = value.utf8
    let scheme = "bearer ".utf8
    guard bytes.count > scheme.count,
      zip(bytes, scheme).allSatisfy({ given, expected in
        given == expected || (expected >= UInt8(ascii: "a") && given == expected - 0x20)
      })
    else { return nil }
    let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
    let rest = bytes.dropFirst(scheme.count)
    guard let first = rest.firstIndex(where: { !isBlank($0) }),
      let last = rest.lastIndex(where: { !isBlank($0) })
    else { return nil }
    return String(decoding: rest[first...last], as: UTF8.self)
  }
}

/// An RPC on GRPCCore's path, as the envelope serves it: the interceptors further in, and the
/// handler, answer it.
private struct InterceptedRPC<Input: Sendable, Output: Sendable>: EnvelopedRPC {
  let request: StreamingServerRequest<Input>
  let context: ServerContext
  let next:
    @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>

  func answer() async -> StreamingServerResponse<Output> {
    // Interceptors further in return failures as responses rather than throwing them.
    do {
      return try await next(request, context)
    } catch let error as RPCError {
      return StreamingServerResponse(error: error)
    } catch {
      return StreamingServerResponse(
        error: ErrorMappingInterceptor.rpcError(
          for: error,
          domain: context.descriptor.service.package
        )
      )
    }
  }

  static func refusal(in answer: StreamingServerResponse<Output>) -> RPCError? {
    if case .failure(let error) = answer.accepted { return error }
    return nil
  }

  static func refused(_ refusal: RPCError) -> StreamingServerResponse<Output> {
    StreamingServerResponse(error: refusal)
  }

  func cancel() { context.cancellation.cancel() }

  func finish(_ answer: inout StreamingServerResponse<Output>, requestID: String) async {
    switch answer.accepted {
    case .success(var contents):
      contents.metadata.addString(requestID, forKey: "x-request-id")
      answer.accepted = .success(contents)
    case .failure(var error):
      error.metadata.addString(requestID, forKey: "x-request-id")
      answer.accepted = .failure(error)
    }
  }
}

extension StreamingServerResponse {
  /// The status the answer stands for as far as it is known when accepted: OK, or the
  /// refusal's code.
  var statusCode: Status.Code {
    switch accepted {
    case .success: .ok
    case .failure(let error): Status.Code(error.code)
    }
  }
}

extension Metadata {
  /// The first string value of `key`, if any.
  func first(_ key: String) -> String? {
    var values = self[stringValues: key].makeIterator()
    return values.next()
  }
}

/// Request ids for RPCs that bring none: a random prefix per process and a counter —
/// unique, and far cheaper than a random UUID per RPC.
enum RequestIDs {
  private static let prefix = String(UInt32.random(in: .min ... .max), radix: 16)
  private static let counter = Atomic<UInt64>(0)

  static func next() -> String {
    "\(prefix)-\(String(counter.add(1, ordering: .relaxed).newValue, radix: 16))"
  }
}

/// Per-method counters and timers, made once per method and status rather than per RPC
/// (making one goes through the metrics system's lock and allocates its handler). Named and
/// labelled as grpc-go's Prometheus interceptors name theirs (`grpc_server_handled_total`
/// with `grpc_service`, `grpc_method` and `grpc_code`), so existing dashboards fit.
final class RPCMetrics: Sendable {
  /// One method's handles: the unary path keeps its method's (`UnaryMethod`), the interceptor
  /// looks them up by name.
  final class Method: @unchecked Sendable {
    private let labels: [(String, String)]
    private let timer: Metrics.Timer
    private let started: Counter
    private let ok: Counter
    private let failed = Mutex<[Status.Code: Counter]>([:])
    private let side: String
    private let name: String
    /// Told of each start when the tests record which RPCs they called (`ServedRPCs`).
    private let served: ServedRPCs?

    /// `name`: "package.Service/Method"; `side`: "server" or "client".
    init(_ name: String, side: String = "server") {
      let slash = name.lastIndex(of: "/") ?? name.endIndex
      labels = [
        ("grpc_service", String(name[..<slash])),
        ("grpc_method", String(name[slash...].dropFirst())),
      ]
      self.side = side
      self.name = name
      served = side == "server" ? ServedRPCs.shared : nil
      timer = Metrics.Timer(label: "grpc_\(side)_handling_seconds", dimensions: labels)
      started = Counter(label: "grpc_\(side)_started_total", dimensions: labels)
      ok = Self.counter(side, labels, .ok)
    }

    /// Counts the RPC as started; what `record` measures from.
    func start() -> ContinuousClock.Instant {
      started.increment()
      served?.served(name)
      return .now
    }

    func record(_ code: Status.Code, since started: ContinuousClock.Instant) {
      let elapsed = started.duration(to: .now)
      let counter =
        code == .ok
        ? ok
        : failed.withLock { failed in
          if let known = failed[code] { return known }
          let counter = Self.counter(side, labels, code)
          failed[code] = counter
          return counter
        }
      counter.increment()
      timer.recordNanoseconds(
        elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
      )
    }

    private static func counter(
      _ side: String,
      _ labels: [(String, String)],
      _ code: Status.Code
    ) -> Counter {
      Counter(
        label: "grpc_\(side)_handled_total",
        dimensions: labels + [("grpc_code", code.prometheusName)]
      )
    }
  }

  private let side: String
  private let methods = Mutex<[String: Method]>([:])

  init(side: String = "server") {
    self.side = side
  }

  func method(_ name: String) -> Method {
    methods.withLock { methods in
      if let known = methods[name] { return known }
      let method = Method(name, side: side)
      methods[name] = method
      return method
    }
  }
}

extension Status.Code {
  /// Go's names of the codes ("OK", "InvalidArgument", "Unavailable"), which grpc-go's
  /// Prometheus metrics use as `grpc_code`.
  var prometheusName: String {
    switch self {
    case .ok: "OK"
    case .cancelled: "Canceled"
    case .unknown: "Unknown"
    case .invalidArgument: "InvalidArgument"
    case .deadlineExceeded: "DeadlineExceeded"
    case .notFound: "NotFound"
    case .alreadyExists: "AlreadyExists"
    case .permissionDenied: "PermissionDenied"
    case .resourceExhausted: "ResourceExhausted"
    case .failedPrecondition: "FailedPrecondition"
    case .aborted: "Aborted"
    case .outOfRange: "OutOfRange"
    case .unimplemented: "Unimplemented"
    case .internalError: "Internal"
    case .unavailable: "Unavailable"
    case .dataLoss: "DataLoss"
    case .unauthenticated: "Unauthenticated"
    default: "Code(\(rawValue))"
    }
  }

  /// Whether the failure is the server's rather than the request's: the codes gRPC's HTTP
  /// mapping answers with a 5xx (internal, unknown, data loss, unimplemented, unavailable,
  /// deadline exceeded).
  var isServerFault: Bool {
    switch self {
    case .internalError, .unknown, .dataLoss, .unimplemented, .unavailable, .deadlineExceeded:
      true
    default: false
    }
  }
}
