import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Logging
import ServiceLifecycle
import SuiteKit
import SuiteRPC
import SuiteTransport
import SwiftProtobuf
import UnixSignals

import struct Foundation.Data

/// grpc's interop `TestService` on the suite's own server configuration (SuiteRPC: the
/// same limits, interceptors, health and TLS settings as every service), for the interop
/// cases `make test` drives with Python's grpcio (scripts/interop_client.py).
@main
enum InteropServer {
  static func main() async {
    await ServiceMain.run("interop-server", grpcPort: 7198) { reader, logger in
      let server = GRPCServerService(
        settings: try ServerSettings(config: reader, defaultPort: 7198),
        services: .init(
          open: [InteropTestService()],
          internal: [],
          names: ["grpc.testing.TestService"]
        ),
        internalCredential: try reader.required("INTERNAL_CREDENTIAL"),
        health: HealthStatusBoard(),
        logger: logger,
        readyFile: reader.optional("READY_FILE")
      )
      let group = ServiceGroup(
        configuration: .init(
          services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)],
          gracefulShutdownSignals: [.sigterm, .sigint],
          logger: logger
        )
      )
      try await group.run()
    }
  }
}

/// The behaviour interop-test-descriptions.md asks of a test server. It registers the
/// TestService methods it serves, which are all but UnimplementedCall: the unimplemented_method
/// case must find that one missing from the server (UNIMPLEMENTED, as for any unknown method),
/// so there is no handler for it to stand in.
struct InteropTestService: RegistrableRPCService {
  static let echoInitial = "x-grpc-test-echo-initial"
  static let echoTrailing = "x-grpc-test-echo-trailing-bin"

  typealias Method = Grpc_Testing_TestService.Method

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.register(Method.EmptyCall.descriptor, unary: emptyCall)
    router.register(Method.UnaryCall.descriptor, unary: unaryCall)
    router.register(Method.CacheableUnaryCall.descriptor, unary: cacheableUnaryCall)
    router.register(Method.StreamingOutputCall.descriptor) { request, context in
      try await streamingOutputCall(request: ServerRequest(stream: request), context: context)
    }
    router.register(Method.StreamingInputCall.descriptor) { request, context in
      StreamingServerResponse(
        single: try await streamingInputCall(request: request, context: context)
      )
    }
    router.register(Method.FullDuplexCall.descriptor, streaming: fullDuplexCall)
    router.register(Method.HalfDuplexCall.descriptor, streaming: halfDuplexCall)
  }

  func emptyCall(
    request: ServerRequest<Grpc_Testing_Empty>,
    context: ServerContext
  ) async throws
    -> ServerResponse<Grpc_Testing_Empty>
  {
    ServerResponse(
      message: Grpc_Testing_Empty(),
      metadata: Self.initialEcho(request.metadata),
      trailingMetadata: Self.trailingEcho(request.metadata)
    )
  }

  func unaryCall(
    request: ServerRequest<Grpc_Testing_SimpleRequest>,
    context: ServerContext
  ) async throws
    -> ServerResponse<Grpc_Testing_SimpleResponse>
  {
    try Self.fail(with: request.message.responseStatus)
    let size = Int(request.message.responseSize)
    guard size >= 0 else {
      throw RPCError(code: .invalidArgument, message: "response_size must not be negative")
    }
    return ServerResponse(
      message: .with { $0.payload = Self.payload(size: size) },
      metadata: Self.initialEcho(request.metadata),
      trailingMetadata: Self.trailingEcho(request.metadata)
    )
  }

  func cacheableUnaryCall(
    request: ServerRequest<Grpc_Testing_SimpleRequest>,
    context: ServerContext
  )
    async throws -> ServerResponse<Grpc_Testing_SimpleResponse>
  {
    try await unaryCall(request: request, context: context)
  }

  func streamingOutputCall(
    request: ServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
    context: ServerContext
  ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
    let message = request.message
    return StreamingServerResponse(metadata: Self.initialEcho(request.metadata)) { writer in
      try await Self.respond(to: message, writer: writer)
      return Self.trailingEcho(request.metadata)
    }
  }

  func streamingInputCall(
    request: StreamingServerRequest<Grpc_Testing_StreamingInputCallRequest>,
    context: ServerContext
  ) async throws -> ServerResponse<Grpc_Testing_StreamingInputCallResponse> {
    var total = 0
    for try await message in request.messages { total += message.payload.body.count }
    return ServerResponse(message: .with { $0.aggregatedPayloadSize = Int32(clamping: total) })
  }

  func fullDuplexCall(
    request: StreamingServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
    context: ServerContext
  ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
    StreamingServerResponse(metadata: Self.initialEcho(request.metadata)) { writer in
      for try await message in request.messages {
        try await Self.respond(to: message, writer: writer)
      }
      return Self.trailingEcho(request.metadata)
    }
  }

  func halfDuplexCall(
    request: StreamingServerRequest<Grpc_Testing_StreamingOutputCallRequest>,
    context: ServerContext
  ) async throws -> StreamingServerResponse<Grpc_Testing_StreamingOutputCallResponse> {
    StreamingServerResponse(metadata: Self.initialEcho(request.metadata)) { writer in
      var received: [Grpc_Testing_StreamingOutputCallRequest] = []
      for try await message in request.messages { received.append(message) }
      for message in received { try await Self.respond(to: message, writer: writer) }
      return Self.trailingEcho(request.metadata)
    }
  }

  /// Writes one response per parameter, after its interval; or fails with the asked status.
  static func respond(
    to message: Grpc_Testing_StreamingOutputCallRequest,
    writer: RPCWriter<Grpc_Testing_StreamingOutputCallResponse>
  ) async throws {
    try fail(with: message.responseStatus)
    for parameters in message.responseParameters {
      if parameters.intervalUs > 0 {
        try await Task.sleep(for: .microseconds(Int(parameters.intervalUs)))
      }
      guard parameters.size >= 0 else {
        throw RPCError(code: .invalidArgument, message: "size must not be negative")
      }
      try await writer.write(.with { $0.payload = payload(size: Int(parameters.size)) })
    }
  }

  /// The status a request asks for, unless it asks for OK.
  static func fail(with status: Grpc_Testing_EchoStatus) throws {
    guard status.code != 0 else { return }
    let code = Status.Code(rawValue: Int(status.code)).flatMap(RPCError.Code.init) ?? .unknown
    throw RPCError(code: code, message: status.message)
  }

  static func payload(size: Int) -> Grpc_Testing_Payload {
    .with { $0.body = Data(count: size) }
  }

  static func initialEcho(_ metadata: Metadata) -> Metadata {
    var echo = Metadata()
    for value in metadata[stringValues: echoInitial] { echo.addString(value, forKey: echoInitial) }
    return echo
  }

  static func trailingEcho(_ metadata: Metadata) -> Metadata {
    var echo = Metadata()
    for value in metadata[binaryValues: echoTrailing] {
      echo.addBinary(value, forKey: echoTrailing)
    }
    return echo
  }
}

extension RPCRouter {
  /// A handler with protobuf messages, in the router's streaming form.
  fileprivate mutating func register<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ method: MethodDescriptor,
    streaming handler:
      @escaping @Sendable (StreamingServerRequest<Input>, ServerContext) async throws
      -> StreamingServerResponse<Output>
  ) {
    registerHandler(
      forMethod: method,
      deserializer: ProtobufDeserializer<Input>(),
      serializer: ProtobufSerializer<Output>(),
      handler: handler
    )
  }

  /// A unary handler, its one request read from the stream and its response sent as one.
  fileprivate mutating func register<Input: SwiftProtobuf.Message, Output: SwiftProtobuf.Message>(
    _ method: MethodDescriptor,
    unary handler:
      @escaping @Sendable (ServerRequest<Input>, ServerContext) async throws -> ServerResponse<
        Output
      >
  ) {
    register(method) { request, context in
      StreamingServerResponse(single: try await handler(ServerRequest(stream: request), context))
    }
  }
}
