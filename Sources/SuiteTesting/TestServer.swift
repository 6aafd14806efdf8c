import Foundation
public import GRPCCore
public import GRPCNIOTransportHTTP2
import Logging
import ServiceLifecycle
public import SuiteRPC
public import SuiteTransport

/// A gRPC server of the suite's own (`GRPCServerService`) in the test's process, serving the
/// services a test gives it over loopback, and grpc-swift clients of it: what the transport and
/// RPC-layer tests run against.
public enum TestServer {
  /// Serves the health service with `settings` until `body` returns, then shuts down
  /// gracefully; `body` gets the server's port and the graceful shutdown trigger. The unary
  /// methods of `browser` (services' full names) are served to browsers too.
  public static func withServer(
    _ settings: ServerSettings,
    board: HealthStatusBoard = HealthStatusBoard(),
    open: [any RegistrableRPCService] = [],
    internal: [any RegistrableRPCService] = [],
    browser: Set<String> = [],
    _ body:
      @Sendable (_ port: Int, _ shutDown: @escaping @Sendable () async -> Void) async throws -> Void
  ) async throws {
    let ready = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ready-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: ready) }
    var logger = Logger(label: "transport-test")
    logger.logLevel = .warning
    let server = GRPCServerService(
      settings: settings,
      services: .init(
        open: open,
        internal: `internal`,
        names: ["test.Service"],
        browser: browser
      ),
      internalCredential: "test",
      health: board,
      logger: logger,
      readyFile: ready
    )
    let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      guard let endpoint = try await readyAddress(at: ready),
        let port = endpoint.split(separator: ":").last.flatMap({ Int($0) })
      else {
        throw NotReady(readyFile: ready)
      }
      try await body(port) { await group.triggerGracefulShutdown() }
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
  }

  /// A plaintext grpc-swift client of the server on `port`.
  public static func withClient(
    port: Int,
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void
  ) async throws {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: port),
        transportSecurity: .plaintext
      ),
      handleClient: body
    )
  }

  public static func settings(
    _ transport: ServerSettings.Transport,
    _ change: (inout ServerSettings) -> Void = { _ in }
  )
    -> ServerSettings
  {
    var settings = ServerSettings(transport: transport)
    change(&settings)
    return settings
  }

  /// The server never wrote its address to its ready file.
  public struct NotReady: Error, CustomStringConvertible {
    public let readyFile: String
    public var description: String { "the test server wrote no address to \(readyFile)" }
  }
}
