public import GRPCCore
public import GRPCNIOTransportHTTP2
public import ServiceLifecycle
public import SuiteKit

/// A client of another service of the suite, kept connected for the life of the process:
/// it joins the ServiceGroup, so it starts before the server and stops after it.
public struct GRPCClientService: Service {
  public let client: GRPCClient<HTTP2ClientTransport.Posix>

  /// Connects to `address` ("host:port"), named in errors after `variable`, over TLS (mutual
  /// when `tls` has a certificate) or, without `tls`, plaintext.
  public init(address: String, variable: String, tls: ClientTLS? = nil) throws(ConfigError) {
    client = GRPCClient(
      transport: try Self.transport(address: address, variable: variable, tls: tls),
      interceptors: [OutgoingCallInterceptor()]
    )
  }

  /// The HTTP/2 transport to `address` (`host:port`, or several separated by commas: see
  /// `ServiceAddresses`), as `init` connects (also for a client of a command's lifetime,
  /// through `withGRPCClient`). Calls go round robin over every address the names resolve to.
  public static func transport(
    address: String,
    variable: String,
    tls: ClientTLS? = nil
  ) throws(ConfigError)
    -> HTTP2ClientTransport.Posix
  {
    let addresses = try ServiceAddresses(address, variable: variable)
    var resolvers = NameResolverRegistry.defaults
    resolvers.registerFactory(ServiceAddresses.ResolverFactory())
    do {
      return try .http2NIOPosix(
        target: addresses,
        transportSecurity: tls?.transportSecurity ?? .plaintext,
        // A restarted peer is found again within seconds, not minutes.
        config: .defaults { $0.backoff.max = .seconds(5) },
        resolverRegistry: resolvers,
        serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin])
      )
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
