public import GRPCCore
public import GRPCInProcessTransport
import Logging
import SuiteRPC

/// Serves `services` over the in-process transport with the suite's own interceptors, and
/// hands `body` a client connected to them (through `clientInterceptors`).
public func withInProcessServer<Result: Sendable>(
  open: [any RegistrableRPCService],
  internal internalServices: [any RegistrableRPCService] = [],
  internalCredential: String = "test-internal-credential",
  clientInterceptors: [any ClientInterceptor] = [],
  _ body: @Sendable (GRPCClient<InProcessTransport.Client>) async throws -> Result
) async throws -> Result {
  let transport = InProcessTransport()
  let server = GRPCServer(
    transport: transport.server,
    services: open + internalServices,
    interceptorPipeline: GRPCServerService.pipeline(
      internalServices: internalServices,
      credential: internalCredential,
      logger: Logger(label: "in-process")
    )
  )
  let client = GRPCClient(transport: transport.client, interceptors: clientInterceptors)
  return try await withThrowingTaskGroup(of: Void.self) { group in
    group.addTask { try await server.serve() }
    group.addTask { try await client.runConnections() }
    defer {
      client.beginGracefulShutdown()
      server.beginGracefulShutdown()
    }
    return try await body(client)
  }
}
