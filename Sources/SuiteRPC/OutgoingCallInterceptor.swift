public import GRPCCore
import SuiteKit

/// Every call one service of the suite makes to another: carries the serving RPC's request
/// id (`x-request-id`) so one activation can be followed through the logs of gateway,
/// billing-center and workspace-console, makes the call a client span of the trace
/// (`Traces`), and counts it in `grpc_client_*` metrics.
public struct OutgoingCallInterceptor: ClientInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingClientRequest<Input>,
    context: ClientContext,
    next: (StreamingClientRequest<Input>, ClientContext) async throws -> StreamingClientResponse<
      Output
    >
  ) async throws -> StreamingClientResponse<Output> {
    var request = request
    Self.forwardRequestID(into: &request.metadata)
    let rpc = context.descriptor.fullyQualifiedMethod
    let metrics = Self.metrics.method(rpc)
    let started = metrics.start()
    do {
      let response = try await Traces.calling(
        rpc,
        metadata: request.metadata,
        outcome: { $0.statusCode }
      ) { carried in
        var traced = request
        traced.metadata = carried
        return try await next(traced, context)
      }
      switch response.accepted {
      case .success:
        // Accepted: the answer's headers came. The suite's servers answer a failure
        // trailers-only (`.failure` below), so for the unary calls between its services
        // this is an OK, whose message comes with the headers.
        metrics.record(.ok, since: started)
      case .failure(let error):
        metrics.record(Status.Code(error.code), since: started)
      }
      return response
    } catch let error as RPCError {
      metrics.record(Status.Code(error.code), since: started)
      throw error
    }
  }

  /// The serving RPC's request id, unless the call names one itself; nothing outside an RPC.
  static func forwardRequestID(into metadata: inout Metadata) {
    let serving = RequestContext.current
    guard !serving.rpc.isEmpty, metadata.first("x-request-id") == nil else { return }
    metadata.addString(serving.requestID, forKey: "x-request-id")
  }

  static let metrics = RPCMetrics(side: "client")
}

extension StreamingClientResponse {
  /// OK once accepted (see above), or the refusal's code.
  var statusCode: Status.Code {
    switch accepted {
    case .success: .ok
    case .failure(let error): Status.Code(error.code)
    }
  }
}
