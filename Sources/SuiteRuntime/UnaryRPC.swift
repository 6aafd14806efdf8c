import GRPCCore
import Logging

/// One unary RPC accepted by the suite's transport for a `UnaryMethods` entry, served on its
/// own task as GRPCCore's executor would serve it with the suite's interceptors
/// (`GRPCServerService.pipeline`): the request context, request id echo, metrics and failure
/// log line of `RequestContextInterceptor`; the internal credential check of
/// `InternalCredentialInterceptor` for internal services; errors mapped by
/// `ErrorMappingInterceptor`; the `grpc-timeout` deadline cancelling the RPC (through its
/// cancellation handle, as GRPCCore does); exactly one request message. A class: the RPC is
/// handed from the event loop to its connection's task and on to its own, and copying a
/// struct of this many references retained and released each of them every time (~4 % of
/// the CPU per RPC).
final class UnaryRPC: Sendable {
  let method: UnaryMethod
  let metadata: Metadata
  /// The caller's host, as `RequestContextInterceptor.host(of:)` gives it.
  let peer: String
  let requests: ConsumedRequests
  let writer: SuiteResponseWriter
  let context: ServerContext

  init(
    method: UnaryMethod,
    metadata: Metadata,
    peer: String,
    requests: ConsumedRequests,
    writer: SuiteResponseWriter,
    context: ServerContext
  ) {
    self.method = method
    self.metadata = metadata
    self.peer = peer
    self.requests = requests
    self.writer = writer
    self.context = context
  }

  /// What every unary RPC of a server shares (a class: each RPC's task holds it).
  final class Shared: Sendable {
    let logger: Logger
    let credential: InternalCredential
    let trustedProxies: TrustedProxies

    init(
      logger: Logger,
      credential: InternalCredential,
      trustedProxies: TrustedProxies = .noProxies
    ) {
      self.logger = logger
      self.credential = credential
      self.trustedProxies = trustedProxies
    }
  }

  /// A connection's unary RPCs, each in a task of its own, on the connection's event loop
  /// when `loop` is given (a task's preferred executor is inherited by its child tasks),
  /// otherwise on the concurrency pool (`ServerSettings.unaryOnEventLoop`). On the loop, which
  /// reads the request and writes the answer, a handler that waits for nothing else (a
  /// database, another service) runs without a single hand-over between threads, and one that
  /// does resumes on the loop its answer leaves from; through the pool a lone RPC cost two
  /// thread wake-ups. Work that computes for long does not belong on a loop: the suite's
  /// password hashing has threads of its own (`PasswordHasher`).
  static func serve(
    _ rpcs: HandoffQueue<UnaryRPC>,
    on loop: EventLoopTaskExecutor?,
    _ shared: Shared
  ) async {
    await withTaskExecutorPreference(loop) {
      await withDiscardingTaskGroup { group in
        // The queue ends when the connection closes, or with an error when this task is cancelled.
        while let rpc = try? await rpcs.next() {
          group.addTask { await rpc.run(shared) }
        }
      }
    }
  }

  func run(_ shared: Shared) async {
    let requestContext = RequestContextInterceptor.requestContext(
      metadata: metadata,
      peer: peer,
      rpc: method.name,
      logger: shared.logger,
      trustedProxies: shared.trustedProxies
    )
    let started = method.metrics.start()
    // The span spans the whole answer, the failure's log line included (it names the trace).
    await Traces.serving(method.name, metadata: metadata, outcome: { $0 }) {
      let answer = await RequestContext.$current.withValue(requestContext) {
        await answerWithinDeadline(requestContext.deadline, credential: shared.credential)
      }
      return await send(answer, as: requestContext, since: started)
    }
  }

  /// Writes `answer` to the caller, and counts and logs it; its status code.
  private func send(
    _ answer: Result<UnaryAnswer, RPCError>,
    as requestContext: RequestContext,
    since started: ContinuousClock.Instant
  ) async -> Status.Code {
    let requestID = requestContext.requestID
    switch answer {
    case .success(var answer):
      answer.metadata.addString(requestID, forKey: "x-request-id")
      method.metrics.record(.ok, since: started)
      await writer.write(contentsOf: [
        .metadata(answer.metadata), .message(answer.message),
        .status(Status(code: .ok, message: ""), answer.trailingMetadata),
      ])
      return .ok
    case .failure(var error):
      RequestContextInterceptor.recordFailure(
        error,
        of: requestContext,
        in: method.metrics,
        since: started
      )
      error.metadata.addString(requestID, forKey: "x-request-id")
      let code = Status.Code(error.code)
      await writer.write(.status(Status(code: code, message: error.message), error.metadata))
      return code
    }
  }

  /// The answer by the request context's deadline (`grpc-timeout`), if it has one
  /// (`RPCDeadline`): past it, the handler's cancellation handle and task are cancelled.
  private func answerWithinDeadline(
    _ deadline: ContinuousClock.Instant?,
    credential: InternalCredential
  ) async -> Result<UnaryAnswer, RPCError> {
    guard let deadline else { return await answer(credential: credential) }
    let cancellation = context.cancellation
    let (answer, passed) = await RPCDeadline.race(deadline, onPassed: { cancellation.cancel() }) {
      await self.answer(credential: credential)
    }
    if passed, case .failure = answer { return .failure(RPCDeadline.exceeded) }
    return answer
  }

  private func answer(credential: InternalCredential) async -> Result<UnaryAnswer, RPCError> {
    if method.requiresCredential {
      do {
        try InternalCredentialInterceptor.check(metadata, against: credential)
      } catch {
        return .failure(error)
      }
    }
    do {
      return try await method.respond(try await onlyMessage(), metadata, context)
    } catch {
      return .failure(
        ErrorMappingInterceptor.rpcError(for: error, domain: context.descriptor.service.package)
      )
    }
  }

  /// The request's one message, once the client has ended its requests (GRPCCore's unary
  /// adapter reads the same way, with the same errors).
  private func onlyMessage() async throws -> MessageBytes {
    var parts = requests.makeAsyncIterator()
    guard case .message(let message)? = try await parts.next() else {
      throw RPCError(code: .internalError, message: "Empty stream.")
    }
    guard try await parts.next() == nil else {
      throw RPCError(code: .internalError, message: "Too many messages.")
    }
    return message
  }
}

/// `grpc-timeout`: 1 to 8 digits and a unit (H, M, S, m, u, n).
enum GRPCTimeout {
  static func duration(_ value: String?) -> Duration? {
    guard let value, let unit = value.utf8.last else { return nil }
    let digits = value.utf8.dropLast()
    guard (1...8).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
      let amount = Int64(String(decoding: digits, as: UTF8.self))
    else { return nil }
    switch unit {
    case UInt8(ascii: "H"): return .seconds(amount * 3600)
    case UInt8(ascii: "M"): return .seconds(amount * 60)
    case UInt8(ascii: "S"): return .seconds(amount)
    case UInt8(ascii: "m"): return .milliseconds(amount)
    case UInt8(ascii: "u"): return .microseconds(amount)
    case UInt8(ascii: "n"): return .nanoseconds(amount)
    default: return nil
    }
  }
}
