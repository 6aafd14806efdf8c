public import Logging
public import SuiteKit
import SuiteTransport

extension ServiceMain {
  /// `ServiceMain.run` for a gRPC service whose server listens on `grpcPort` by default:
  /// `--health-check` asks that server's health service whether it is serving.
  public static func run(
    _ name: String,
    grpcPort: Int,
    _ body: @Sendable (ConfigReader, Logger) async throws -> Void
  ) async -> Never {
    await run(
      name,
      healthCheck: { reader in
        let settings = try ServerSettings(config: reader, defaultPort: grpcPort)
        // Against a TLS server the probe is a client like the others: GRPC_CLIENT_* say how.
        let tls = settings.tls == nil ? nil : try ClientTLS(config: reader)
        let timeout = try reader.seconds(
          "HEALTH_CHECK_TIMEOUT_SECONDS",
          default: .seconds(2),
          range: 1...300
        )
        return await HealthProbe.isServing(port: settings.port, tls: tls, timeout: timeout)
      },
      body
    )
  }
}
