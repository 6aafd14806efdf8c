import GRPCCore
import Logging
import SuiteKit
import SuiteTransport

/// One RPC as a server path hands it to the envelope: GRPCCore's, through
/// `RequestContextInterceptor`, or the suite transport's unary routes (`UnaryMethod`). The
/// envelope is generic over it, not given closures, so that each path gets its own specialised
/// copy: closures cost the unary path 5–11 % of its throughput (`bench/results/grpc-changes.md`).
protocol EnvelopedRPC: Sendable {
  /// The path's answer: a `StreamingServerResponse`, or a unary route's encoded `Result`.
  associatedtype Answer: Sendable
  /// The rest of the path's pipeline, run with `RequestContext.current` bound. What it throws
  /// comes back as a refusal, mapped as `ErrorMappingInterceptor` maps it.
  func answer() async -> Answer
  /// The refusal `answer` is, when it is one.
  static func refusal(in answer: Answer) -> RPCError?
  /// An answer that is `refusal`.
  static func refused(_ refusal: RPCError) -> Answer
  /// Cancels the RPC's cancellation handle: its deadline passed.
  func cancel()
  /// Adds the request id to the answer's metadata, or its refusal's, and sends it when the path
  /// sends its own answers.
  func finish(_ answer: inout Answer, requestID: String) async
}

/// The envelope every RPC is served in, on both server paths, written once: the request context
/// (`RequestContext.current`), per-method metrics and one log line per failure, the server span,
/// the `grpc-timeout` deadline, past which the handler's task is cancelled too and not only its
/// cancellation handle (`RPCDeadline`), and the request id echoed. What runs inside is the
/// path's: GRPCCore's interceptors further in, or the unary route's credential check, request
/// check and handler, in the same order.
enum RPCEnvelope {
  static func serve<RPC: EnvelopedRPC>(
    _ rpc: RPC,
    named name: String,
    metadata: Metadata,
    peer: String,
    logger: Logger,
    trustedProxies: TrustedProxies,
    metrics: RPCMetrics.Method
  ) async -> RPC.Answer {
    let requestContext = RequestContextInterceptor.requestContext(
      metadata: metadata,
      peer: peer,
      rpc: name,
      logger: logger,
      trustedProxies: trustedProxies
    )
    let started = metrics.start()
    // The span spans the whole answer, the failure's log line included (it names the trace).
    return await Traces.serving(
      name,
      metadata: metadata,
      outcome: { RPC.refusal(in: $0).map { Status.Code($0.code) } ?? .ok }
    ) {
      var answer = await within(requestContext, rpc)
      if let refusal = RPC.refusal(in: answer) {
        RequestContextInterceptor.recordFailure(
          refusal,
          of: requestContext,
          in: metrics,
          since: started
        )
      } else {
        metrics.record(.ok, since: started)
      }
      await rpc.finish(&answer, requestID: requestContext.requestID)
      return answer
    }
  }

  /// `rpc`'s answer, served as `requestContext`, by its deadline when it has one. With a
  /// deadline the context is bound inside the handler's task: bound around the race instead, a
  /// response came back as freed memory in release builds (a crash on the first RPC with a
  /// deadline on GRPCCore's path).
  private static func within<RPC: EnvelopedRPC>(
    _ requestContext: RequestContext,
    _ rpc: RPC
  ) async -> RPC.Answer {
    guard let deadline = requestContext.deadline else {
      return await RequestContext.$current.withValue(requestContext) { await rpc.answer() }
    }
    let (answer, passed) = await RPCDeadline.race(deadline, onPassed: { rpc.cancel() }) {
      await RequestContext.$current.withValue(requestContext) { await rpc.answer() }
    }
    if passed, RPC.refusal(in: answer) != nil { return RPC.refused(RPCDeadline.exceeded) }
    return answer
  }
}
