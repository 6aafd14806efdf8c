import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Logging
import SuiteKit
import SuiteTransport
import SwiftProtobuf

/// The unary methods of the contracts' services, each answered by the suite's transport
/// itself (`UnaryRoute`) with the same method of the same service (`ServiceProtocol`, as the
/// generated code registers it with GRPCCore) called with the request's one message, and its
/// answer sent to the connection in one piece. The services' code does not change: which
/// methods are unary, and how each is reached, is generated next to the contracts
/// (`registerUnaryMethods`, `GuanceContracts/Generated/UnaryMethods+Contracts.swift`, by
/// `make protos`). Streaming methods, and every method on grpc-swift's transport, still go
/// through GRPCCore.
struct UnaryMethods: UnaryMethodRegistrar {
  private var routes: UnaryRoutes = [:]
  private let shared: UnaryMethod.Shared
  /// Methods registered now belong to a service only the suite may call.
  private var requireCredential = false

  private init(shared: UnaryMethod.Shared) { self.shared = shared }

  /// The routes of the unary methods of `services`; those of `internal` ones ask for the
  /// internal credential.
  static func routes(
    open: [any RegistrableRPCService],
    internal: [any RegistrableRPCService],
    shared: UnaryMethod.Shared
  ) -> UnaryRoutes {
    var methods = UnaryMethods(shared: shared)
    for service in open { registerUnaryMethods(of: service, with: &methods) }
    methods.requireCredential = true
    for service in `internal` { registerUnaryMethods(of: service, with: &methods) }
    return methods.routes
  }

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
    routes["/" + name] = UnaryMethod(
      name: name,
      metrics: RequestContextInterceptor.metrics.method(name),
      requiresCredential: requireCredential,
      shared: shared
    ) {
      bytes,
      format,
      metadata,
      context in
      let message: Input
      switch format {
      case .protobuf:
        message = try deserializer.deserialize(bytes)
        try StorableText.check(message, encoded: bytes)
      case .json:
        message = try BrowserJSON.decode(bytes)
        try StorableText.check(message)
      }
      let request = ServerRequest(metadata: metadata, message: message)
      switch try await respond(request, context).accepted {
      case .success(let contents):
        return .success(
          UnaryAnswer(
            metadata: contents.metadata,
            message: format == .json
              ? try BrowserJSON.encode(contents.message)
              : try serializer.serialize(contents.message),
            trailingMetadata: contents.trailingMetadata
          )
        )
      case .failure(let error):
        return .failure(error)
      }
    }
  }
}

/// A unary method's successful answer, its message encoded.
struct UnaryAnswer: Sendable {
  var metadata: Metadata
  var message: MessageBytes
  var trailingMetadata: Metadata
}

/// One unary method, answering each of its calls as GRPCCore's executor would serve it with
/// the suite's interceptors (`GRPCServerService.pipeline`): in the same envelope
/// (`RPCEnvelope`: request context, request id echo, metrics, failure log line, span,
/// deadline), the internal credential check of `InternalCredentialInterceptor` for internal
/// services, then the request's one message checked and handled, errors mapped by
/// `ErrorMappingInterceptor`.
final class UnaryMethod: UnaryRoute {
  /// "package.Service/Method".
  let name: String
  let metrics: RPCMetrics.Method
  /// The method belongs to a service only the suite may call (`InternalCredentialInterceptor`).
  let requiresCredential: Bool
  let shared: Shared
  /// Decodes the request's message, calls the service, encodes its answer. What it throws is
  /// mapped to a status as `ErrorMappingInterceptor` maps it; an answer the service returned
  /// as an error is passed on as GRPCCore passes it.
  let respond:
    @Sendable (
      _ message: MessageBytes, _ format: MessageFormat, _ metadata: Metadata,
      _ context: ServerContext
    ) async throws -> Result<UnaryAnswer, RPCError>

  /// What every unary method of a server shares.
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

  init(
    name: String,
    metrics: RPCMetrics.Method,
    requiresCredential: Bool,
    shared: Shared,
    respond:
      @escaping @Sendable (MessageBytes, MessageFormat, Metadata, ServerContext) async throws
      -> Result<UnaryAnswer, RPCError>
  ) {
    self.name = name
    self.metrics = metrics
    self.requiresCredential = requiresCredential
    self.shared = shared
    self.respond = respond
  }

  func serve(_ call: UnaryCall) async {
    _ = await RPCEnvelope.serve(
      UnaryRPC(method: self, call: call),
      named: name,
      metadata: call.metadata,
      peer: call.peer,
      logger: shared.logger,
      trustedProxies: shared.trustedProxies,
      metrics: metrics
    )
  }

  fileprivate func answer(_ call: UnaryCall) async -> Result<UnaryAnswer, RPCError> {
    if requiresCredential {
      do {
        try InternalCredentialInterceptor.check(call.metadata, against: shared.credential)
      } catch {
        return .failure(error)
      }
    }
    do {
      return try await respond(
        try await call.onlyMessage(),
        call.format,
        call.metadata,
        call.context
      )
    } catch {
      return .failure(
        ErrorMappingInterceptor.rpcError(
          for: error,
          domain: call.context.descriptor.service.package
        )
      )
    }
  }
}

/// A call of a unary route, as the envelope serves it: the method answers it, and the call
/// sends the answer to the connection in one piece.
private struct UnaryRPC: EnvelopedRPC {
  let method: UnaryMethod
  let call: UnaryCall

  func answer() async -> Result<UnaryAnswer, RPCError> { await method.answer(call) }

  static func refusal(in answer: Result<UnaryAnswer, RPCError>) -> RPCError? {
    if case .failure(let error) = answer { return error }
    return nil
  }

  static func refused(_ refusal: RPCError) -> Result<UnaryAnswer, RPCError> { .failure(refusal) }

  func cancel() { call.context.cancellation.cancel() }

  func finish(_ answer: inout Result<UnaryAnswer, RPCError>, requestID: String) async {
    switch answer {
    case .success(var answer):
      answer.metadata.addString(requestID, forKey: "x-request-id")
      await call.answer([
        .metadata(answer.metadata), .message(answer.message),
        .status(Status(code: .ok, message: ""), answer.trailingMetadata),
      ])
    case .failure(var error):
      error.metadata.addString(requestID, forKey: "x-request-id")
      await call.answer([
        .status(Status(code: Status.Code(error.code), message: error.message), error.metadata)
      ])
    }
  }
}

/// Protobuf's JSON mapping for the browser protocols (Connect's `application/json`): field
/// names in lowerCamelCase on the way out, either spelling on the way in, and fields this
/// version does not know ignored (a page built against a newer contract still works).
enum BrowserJSON {
  static func decode<Message: SwiftProtobuf.Message>(_ bytes: MessageBytes) throws -> Message {
    var options = JSONDecodingOptions()
    options.ignoreUnknownFields = true
    do {
      return try Message(jsonUTF8Bytes: bytes.withUnsafeBytes { [UInt8]($0) }, options: options)
    } catch {
      throw RPCError(
        code: .invalidArgument,
        message:
          "the request is not \(Message.protoMessageName) in protobuf's JSON mapping: \(error)"
      )
    }
  }

  static func encode(_ message: some SwiftProtobuf.Message) throws -> MessageBytes {
    MessageBytes(try message.jsonUTF8Bytes() as [UInt8])
  }
}
