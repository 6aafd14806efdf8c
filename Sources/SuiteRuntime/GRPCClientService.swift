public import GRPCCore
public import GRPCNIOTransportHTTP2
public import ServiceLifecycle

/// A client of another service of the suite, kept connected for the life of the process:
/// it joins the ServiceGroup, so it starts before the server and stops after it.
public struct GRPCClientService: Service {
  public let client: GRPCClient<HTTP2ClientTransport.Posix>

  /// Connects to `address` ("host:port"), named in errors after `variable`.
  public init(address: String, variable: String) throws(ConfigError) {
    let parts = address.split(separator: ":")
    guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port) else {
      throw .invalid(variable: variable, value: address, expected: "host:port")
    }
    let host = String(parts[0])
    do {
      client = GRPCClient(
        transport: try .http2NIOPosix(
          target: .dns(host: host, port: port), transportSecurity: .plaintext,
          // A restarted peer is found again within seconds, not minutes.
          config: .defaults { $0.backoff.max = .seconds(5) }))
    } catch {
      throw .invalid(variable: variable, value: address, expected: "host:port")
    }
  }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await client.runConnections()
    } onGracefulShutdown: {
      client.beginGracefulShutdown()
    }
  }
}
