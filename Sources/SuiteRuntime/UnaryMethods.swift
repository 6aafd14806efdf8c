import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// The unary methods the suite's transport answers itself, past GRPCCore's per-RPC executor.
///
/// GRPCCore runs every RPC as a stream: the request parts as a mapped async sequence, each
/// interceptor called generically through an existential, the unary method adapted to a
/// streaming one and its answer written through a producer closure and writer wrappers. For a
/// unary RPC that structure was half of the server's CPU per RPC (`bench/results/grpc-changes.md`).
/// Here the same method of the same service (`ServiceProtocol`, as the generated code
/// registers it with GRPCCore) is called with the request's one message, and its answer goes to
/// the connection in one piece. The services' code does not change: which methods are unary is
/// generated from the contracts (`UnaryMethods+Contracts.swift`, by `make protos`). Streaming
/// methods, and every method on grpc-swift's transport, still go through GRPCCore.
struct UnaryMethods: Sendable {
  /// By request path, "/package.Service/Method".
  private var byPath: [String: UnaryMethod] = [:]

  init() {}

  /// Answers `descriptor`'s requests with `respond` (a service's unary method).
  mutating func register<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ descriptor: MethodDescriptor,
    _ respond:
      @escaping @Sendable (ServerRequest<Input>, ServerContext) async throws -> ServerResponse<
        Output
      >
  ) {
    let deserializer = ProtobufDeserializer<Input>()
    let serializer = ProtobufSerializer<Output>()
    let name = descriptor.fullyQualifiedMethod
    byPath["/" + name] = UnaryMethod(
      name: name,
      metrics: RequestContextInterceptor.metrics.method(name)
    ) {
      bytes,
      metadata,
      context in
      let message: Input = try deserializer.deserialize(bytes)
      try StorableText.check(message, encoded: bytes)
      let request = ServerRequest(metadata: metadata, message: message)
      switch try await respond(request, context).accepted {
      case .success(let contents):
        return .success(
          UnaryAnswer(
            metadata: contents.metadata,
            message: try serializer.serialize(contents.message),
            trailingMetadata: contents.trailingMetadata
          )
        )
      case .failure(let error):
        return .failure(error)
      }
    }
  }

  /// The unary methods of `services`; those of `internal` ones ask for the internal credential.
  init(open: [any RegistrableRPCService], internal: [any RegistrableRPCService]) {
    for service in open { Self.register(service, in: &self) }
    var internalMethods = UnaryMethods()
    for service in `internal` { Self.register(service, in: &internalMethods) }
    for (path, var method) in internalMethods.byPath {
      method.requiresCredential = true
      byPath[path] = method
    }
  }

  subscript(path: String) -> UnaryMethod? { byPath[path] }
}

/// One registered unary method.
struct UnaryMethod: Sendable {
  /// "package.Service/Method".
  let name: String
  let metrics: RPCMetrics.Method
  /// Decodes the request's message, calls the service, encodes its answer. What it throws is
  /// mapped to a status as `ErrorMappingInterceptor` maps it; an answer the service returned
  /// as an error is passed on as GRPCCore passes it.
  let respond:
    @Sendable (_ message: MessageBytes, _ metadata: Metadata, _ context: ServerContext) async throws
      ->
      Result<UnaryAnswer, RPCError>
  /// The method belongs to a service only the suite may call (`InternalCredentialInterceptor`).
  var requiresCredential = false
}

/// A unary method's successful answer, its message encoded.
struct UnaryAnswer: Sendable {
  var metadata: Metadata
  var message: MessageBytes
  var trailingMetadata: Metadata
}
