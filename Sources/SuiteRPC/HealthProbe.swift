import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts

/// `<executable> --health-check`: asks this process's own gRPC health service whether it
/// serves, for container health checks that have no grpc_health_probe.
public enum HealthProbe {
  /// True when the server on `port` answers SERVING within `timeout`
  /// (`HEALTH_CHECK_TIMEOUT_SECONDS`); over TLS when `tls` is given (a server with TLS takes no
  /// plaintext).
  public static func isServing(
    host: String = "127.0.0.1",
    port: Int,
    tls: ClientTLS? = nil,
    timeout: Duration = .seconds(2)
  ) async -> Bool {
    do {
      return try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: host, port: port),
          transportSecurity: tls?.transportSecurity ?? .plaintext
        )
      ) { client in
        var options = CallOptions.defaults
        options.timeout = timeout
        let reply = try await Grpc_Health_V1_Health.Client(wrapping: client).check(
          .init(),
          options: options
        )
        return reply.status == .serving
      }
    } catch {
      return false
    }
  }
}
