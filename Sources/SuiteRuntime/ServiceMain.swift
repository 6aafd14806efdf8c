public import Logging
import NIOCore

import func Foundation.exit

/// What every executable's `main` does around its wiring: answer `--health-check` (for gRPC
/// services), set up logging, run, and exit 2 for bad configuration or 1 for a failure, with
/// the reason logged.
public enum ServiceMain {
  /// - Parameter grpcPort: the service's default gRPC port; nil for executables without one.
  public static func run(
    _ name: String,
    grpcPort: Int? = nil,
    _ body: @Sendable (ConfigReader, Logger) async throws -> Void
  ) async -> Never {
    // Replaced once logging is set up: a Logger keeps the handler it was made with, and this
    // one is handed to ServiceGroup, PostgresNIO and every service (LOG_LEVEL did not reach
    // them).
    var logger = Logger(label: name)
    do {
      let reader = ConfigReader()
      // Before anything starts NIO's shared event loops (every client and server of the
      // process runs on them), and only when asked: NIO allows one change, before first use.
      if reader.optional("EVENT_LOOP_THREADS") != nil {
        NIOSingletons.groupLoopCountSuggestion = try reader.int(
          "EVENT_LOOP_THREADS",
          default: 1,
          range: 1...512
        )
      }
      if let grpcPort, CommandLine.arguments.dropFirst().first == "--health-check" {
        let settings = try ServerSettings(config: reader, defaultPort: grpcPort)
        // Against a TLS server the probe is a client like the others: GRPC_CLIENT_* say how.
        let tls = settings.tls == nil ? nil : try ClientTLS(config: reader)
        let timeout = try reader.seconds(
          "HEALTH_CHECK_TIMEOUT_SECONDS",
          default: .seconds(2),
          range: 1...300
        )
        exit(await HealthProbe.isServing(port: settings.port, tls: tls, timeout: timeout) ? 0 : 1)
      }
      _ = try LoggingSetup.bootstrap(config: reader)
      logger = Logger(label: name)
      try await body(reader, logger)
      exit(0)
    } catch let error as ConfigError {
      logger.critical("\(error)")
      exit(2)
    } catch {
      logger.critical("\(name) stopped", metadata: ["error": "\(error)"])
      exit(1)
    }
  }
}
