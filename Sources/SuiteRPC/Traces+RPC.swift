public import GRPCCore
public import SuiteKit
public import Tracing

/// The spans of RPCs (`Traces`): served, and made to another service.
extension Traces {
  /// `body` as the server span of `rpc` ("package.Service/Method"), child of the caller's span
  /// when its metadata carries one. `outcome` tells the status an answer stands for; a
  /// failure the server is at fault for (`isServerFault`) marks the span an error, as
  /// OpenTelemetry's gRPC conventions ask of server spans.
  static func serving<Output>(
    _ rpc: String,
    metadata: Metadata,
    outcome: (Output) -> Status.Code,
    _ body: () async throws -> Output
  ) async rethrows -> Output {
    guard areOn else { return try await body() }
    var context = ServiceContext.topLevel
    InstrumentationSystem.instrument.extract(metadata, into: &context, using: MetadataCarrier())
    return try await withSpan(rpc, context: context, ofKind: .server) { span in
      // The caller's budget, as OpenTelemetry names request metadata: what shows that a
      // deadline reached this service, and how much of it was left.
      if let timeout = metadata.first("grpc-timeout") {
        span.attributes["rpc.grpc.request.metadata.grpc-timeout"] = [timeout]
      }
      return try await recording(span, rpc, server: true, outcome: outcome, body)
    }
  }

  /// `body` as the client span of a call of `rpc` to another service: `body` gets `metadata`
  /// with the span's `traceparent` added, so the callee's span joins the trace.
  static func calling<Output>(
    _ rpc: String,
    metadata sent: Metadata,
    outcome: (Output) -> Status.Code,
    _ body: (Metadata) async throws -> Output
  ) async rethrows -> Output {
    guard areOn else { return try await body(sent) }
    return try await withSpan(rpc, ofKind: .client) { span in
      var carried = sent
      InstrumentationSystem.instrument.inject(
        span.context,
        into: &carried,
        using: MetadataCarrier()
      )
      return try await recording(span, rpc, server: false, outcome: outcome) {
        try await body(carried)
      }
    }
  }

  /// `body` inside the span of the RPC `rpc`: the span named after its service and method,
  /// and given the status `body` ends with (its answer's, as `outcome` tells, or its error's).
  private static func recording<Output>(
    _ span: any Span,
    _ rpc: String,
    server: Bool,
    outcome: (Output) -> Status.Code,
    _ body: () async throws -> Output
  ) async rethrows -> Output {
    let slash = rpc.lastIndex(of: "/") ?? rpc.endIndex
    span.attributes["rpc.system"] = "grpc"
    span.attributes["rpc.service"] = String(rpc[..<slash])
    span.attributes["rpc.method"] = String(rpc[slash...].dropFirst())
    let code: Status.Code
    let output: Output
    do {
      output = try await body()
      code = outcome(output)
    } catch {
      // A call its caller gave up on (its task cancelled at the deadline) was cancelled, not
      // failed for an unknown reason.
      code =
        (error as? RPCError).map { Status.Code($0.code) }
        ?? (error is CancellationError ? .cancelled : .unknown)
      finish(span, code, server: server)
      throw error
    }
    finish(span, code, server: server)
    return output
  }

  private static func finish(_ span: any Span, _ code: Status.Code, server: Bool) {
    span.attributes["rpc.grpc.status_code"] = Int(code.rawValue)
    // Client spans: any failure is one; server spans: only the server's own.
    if code != .ok && (!server || code.isServerFault) {
      span.setStatus(SpanStatus(code: .error, message: "\(code)"))
    }
  }
}

/// gRPC metadata as the carrier of W3C trace context (`traceparent`, `tracestate`).
struct MetadataCarrier: Extractor, Injector {
  func extract(key: String, from carrier: Metadata) -> String? {
    carrier.first(key)
  }

  func inject(_ value: String, forKey key: String, into carrier: inout Metadata) {
    carrier.replaceOrAddString(value, forKey: key)
  }
}
