public import GRPCCore
import GRPCProtobuf
import Logging
import SuiteErrors
import SuiteKit

/// Turns whatever a handler throws into a gRPC status: service errors become statuses with
/// `google.rpc` details; anything unexpected is logged with the request id and leaves as
/// INTERNAL with a generic message, so no SQL or Swift error text reaches the wire.
///
/// It must be the innermost interceptor: GRPCCore turns an error thrown past any interceptor
/// into an UNKNOWN response before the next one out can see it.
public struct ErrorMappingInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var response: StreamingServerResponse<Output>
    do {
      response = try await next(request, context)
    } catch {
      throw Self.rpcError(for: error, domain: context.descriptor.service.package)
    }
    // A streaming handler runs inside the response's producer, after this returns: its errors
    // are mapped there.
    if case .success(var contents) = response.accepted {
      let produce = contents.producer
      contents.producer = { writer in
        do {
          return try await produce(writer)
        } catch {
          throw Self.rpcError(for: error, domain: context.descriptor.service.package)
        }
      }
      response.accepted = .success(contents)
    }
    return response
  }

  /// The status a caller sees for `error`; `domain` (the service's proto package, e.g.
  /// `guance.billing.v1`) qualifies the reasons of the service's own errors.
  public static func rpcError(for error: any Error, domain: String) -> RPCError {
    let mapped = status(for: error, domain: domain)
    // With less than `hopMargin` left of the RPC's deadline, the calls it makes get no time
    // (`callTimeout`) and fail at once: their silence, and anything else unavailable then, is
    // this RPC's deadline running out, not another service out of reach.
    if mapped.code == .unavailable,
      RequestContext.current.deadlinePassedError(reserve: RequestContext.hopMargin) != nil
    {
      return RPCError(
        code: .deadlineExceeded,
        message:
          "the deadline passed, or left too little to ask another service, before the RPC was done"
      )
    }
    return mapped
  }

  private static func status(for error: any Error, domain: String) -> RPCError {
    // A handler cancelled (its deadline passed, its caller left) fails with whatever the work
    // it awaited throws then (postgres-nio's "query cancelled", say): that is the cancellation,
    // not a fault of the service's to log as one.
    if Task.isCancelled, !(error is any ServiceErrorConvertible) { return RPCDeadline.cancelled }
    if let expected = (error as? any PartlyServiceErrorConvertible)?.serviceErrorIfExpected {
      return RPCError(expected.googleRPCStatus(domain: domain))
    }
    switch error {
    case let error as any ServiceErrorConvertible:
      return RPCError(error.serviceError.googleRPCStatus(domain: domain))
    case let error as RPCError:
      // An error relayed from another service carries that service's response headers
      // (pseudo-headers included, from a trailers-only response), which are invalid in our
      // trailers: pass on only the status and its details.
      var metadata = Metadata()
      for case (let key, .binary(let value)) in error.metadata
      where key == "grpc-status-details-bin" {
        metadata.addBinary(value, forKey: key)
      }
      return RPCError(code: error.code, message: error.message, metadata: metadata)
    case let passed as DeadlinePassed:
      return RPCError(code: .deadlineExceeded, message: passed.description)
    case is CancellationError:
      return RPCDeadline.cancelled
    default:
      let request = RequestContext.current
      request.logger.error(
        "unexpected error",
        metadata: ["error": "\(String(reflecting: error))"]
      )
      return RPCError(
        code: .internalError,
        message: "internal error; quote request id \(request.requestID) when reporting it"
      )
    }
  }
}

extension RPCError {
  init(_ status: GoogleRPCStatus) {
    self.init(code: status.code, message: status.message, metadata: status.rpcErrorMetadata)
  }
}
