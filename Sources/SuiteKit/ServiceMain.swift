public import Logging
import NIOCore

import func Foundation.exit

/// What every executable's `main` does around its wiring: answer `--health-check` (for gRPC
/// services), set up logging, run, and exit 2 for bad configuration or 1 for a failure, with
/// the reason logged.
public enum ServiceMain {
  /// - Parameter healthCheck: answers `--health-check` (true: serving), for gRPC services
  ///   (`ServiceMain.run(_:grpcPort:_:)` in SuiteRPC); nil for executables without one.
  public static func run(
    _ name: String,
    healthCheck: (@Sendable (ConfigReader) async throws -> Bool)? = nil,
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
      if let healthCheck, CommandLine.arguments.dropFirst().first == "--health-check" {
        exit(try await healthCheck(reader) ? 0 : 1)
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
