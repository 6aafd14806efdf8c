public import GRPCCore
public import GRPCNIOTransportHTTP2
public import ServiceLifecycle

/// A client of another service of the suite, kept connected for the life of the process:
/// it joins the ServiceGroup, so it starts before the server and stops after it.
public struct GRPCClientService: Service {
  public let client: GRPCClient<HTTP2ClientTransport.Posix>

  /// Connects to `address` ("host:port"), named in errors after `variable`, over TLS (mutual
  /// when `tls` has a certificate) or, without `tls`, plaintext.
  public init(address: String, variable: String, tls: ClientTLS? = nil) throws(ConfigError) {
    client = GRPCClient(
      transport: try Self.transport(address: address, variable: variable, tls: tls)
    )
  }

  /// The HTTP/2 transport to `address`, as `init` connects (also for a client of a command's
  /// lifetime, through `withGRPCClient`).
  public static func transport(
    address: String,
    variable: String,
    tls: ClientTLS? = nil
  ) throws(ConfigError)
    -> HTTP2ClientTransport.Posix
  {
    let parts = address.split(separator: ":")
    guard parts.count == 2, !parts[0].isEmpty, let port = Int(parts[1]), (1...65535).contains(port)
    else {
      throw .invalid(variable: variable, value: address, expected: "host:port")
    }
    let host = String(parts[0])
    do {
      return try .http2NIOPosix(
        target: isIPv4(host) ? .ipv4(address: host, port: port) : .dns(host: host, port: port),
        transportSecurity: tls?.transportSecurity ?? .plaintext,
        // A restarted peer is found again within seconds, not minutes.
        config: .defaults { $0.backoff.max = .seconds(5) }
      )
    } catch {
      throw .invalid(variable: variable, value: address, expected: "host:port")
    }
  }

  /// An address is not a host name: over TLS it must not be sent as one (SNI refuses it), and
  /// the certificate is checked against its IP address instead.
  static func isIPv4(_ host: String) -> Bool {
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    return parts.count == 4 && parts.allSatisfy { part in UInt8(part).map { _ in true } ?? false }
  }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await client.runConnections()
    } onGracefulShutdown: {
      client.beginGracefulShutdown()
    }
  }
}
