import GRPCCore
import Logging
import SuiteKit
import SuiteTransport

/// What the envelope needs of an RPC's answer, whichever path made it: GRPCCore's (a
/// `StreamingServerResponse`) or the suite transport's unary routes (`UnaryMethod`'s result).
protocol EnvelopedAnswer: Sendable {
  /// The refusal, when the answer is one.
  var refusal: RPCError? { get }
  /// An answer that is `refusal`.
  init(refusal: RPCError)
  /// Adds the request id to the answer's metadata, or to its refusal's.
  mutating func echo(requestID: String)
}

/// The one envelope every RPC is served in, on both server paths (`RequestContextInterceptor`
/// for GRPCCore's, `UnaryMethod` for the suite transport's unary routes), written once: the
/// request context (`RequestContext.current`, bound in the handler's own task), per-method
/// metrics and one log line per failure, the request id echoed, the server span, and the
/// `grpc-timeout` deadline, past which the handler's task is cancelled too, not only its
/// cancellation handle (`RPCDeadline`). What the handler throws is mapped as
/// `ErrorMappingInterceptor` maps it, with the request context still bound. Inside it each path
/// runs the same steps in the same order: the internal credential, the storable-text check of
/// the request, the handler.
enum RPCEnvelope {
  static func serve<Answer: EnvelopedAnswer>(
    _ rpc: String,
    metadata: Metadata,
    peer: String,
    cancellation: ServerContext.RPCCancellationHandle,
    domain: String,
    logger: Logger,
    trustedProxies: TrustedProxies,
    metrics: RPCMetrics.Method,
    answer: @escaping @Sendable () async throws -> Answer,
    deliver: (Answer) async -> Void = { _ in }
  ) async -> Answer {
    let requestContext = RequestContextInterceptor.requestContext(
      metadata: metadata,
      peer: peer,
      rpc: rpc,
      logger: logger,
      trustedProxies: trustedProxies
    )
    let started = metrics.start()
    // The span spans the whole answer, the failure's log line included (it names the trace).
    return await Traces.serving(
      rpc,
      metadata: metadata,
      outcome: { $0.refusal.map { Status.Code($0.code) } ?? .ok }
    ) {
      var answer = await within(requestContext, cancellation, domain, answer)
      if let refusal = answer.refusal {
        RequestContextInterceptor.recordFailure(
          refusal,
          of: requestContext,
          in: metrics,
          since: started
        )
      } else {
        metrics.record(.ok, since: started)
      }
      answer.echo(requestID: requestContext.requestID)
      await deliver(answer)
      return answer
    }
  }

  /// `answer`, served as `requestContext`, by its deadline when it has one. The context is bound
  /// inside the handler's task: bound around the race instead, a response came back as freed
  /// memory in release builds (a crash on the first RPC with a deadline on GRPCCore's path).
  private static func within<Answer: EnvelopedAnswer>(
    _ requestContext: RequestContext,
    _ cancellation: ServerContext.RPCCancellationHandle,
    _ domain: String,
    _ answer: @escaping @Sendable () async throws -> Answer
  ) async -> Answer {
    let served: @Sendable () async -> Answer = {
      await RequestContext.$current.withValue(requestContext) {
        do {
          return try await answer()
        } catch {
          return Answer(refusal: ErrorMappingInterceptor.rpcError(for: error, domain: domain))
        }
      }
    }
    guard let deadline = requestContext.deadline else { return await served() }
    let (answer, passed) = await RPCDeadline.race(
      deadline,
      onPassed: { cancellation.cancel() },
      served
    )
    if passed, answer.refusal != nil { return Answer(refusal: RPCDeadline.exceeded) }
    return answer
  }
}

extension StreamingServerResponse: EnvelopedAnswer {
  var refusal: RPCError? {
    if case .failure(let error) = accepted { return error }
    return nil
  }

  init(refusal: RPCError) { self.init(error: refusal) }

  mutating func echo(requestID: String) {
    switch accepted {
    case .success(var contents):
      contents.metadata.addString(requestID, forKey: "x-request-id")
      accepted = .success(contents)
    case .failure(var error):
      error.metadata.addString(requestID, forKey: "x-request-id")
      accepted = .failure(error)
    }
  }
}
