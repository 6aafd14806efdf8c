public import Logging
public import ServiceLifecycle
import UnixSignals

extension ServiceGroupConfiguration {
  /// A service executable's group: SIGTERM and SIGINT drain it; a drain still under way after
  /// `SHUTDOWN_DRAIN_SECONDS` (20) is escalated to cancellation, and a cancellation not done
  /// 5 s later ends the process with a fatal error. A process that stays alive but no longer
  /// serves is the worst outcome for whatever supervises it: a task waiting forever (a
  /// statement postgres-nio never answers, `PostgresConnection.checkOpen`) once held graceful
  /// shutdown open for good; now the supervisor sees an exit and starts a new process.
  public static func suite(
    services: [ServiceGroupConfiguration.ServiceConfiguration], logger: Logger, config: ConfigReader = ConfigReader()
  ) throws(ConfigError) -> ServiceGroupConfiguration {
    var configuration = ServiceGroupConfiguration(
      services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    configuration.maximumGracefulShutdownDuration = try config.seconds(
      "SHUTDOWN_DRAIN_SECONDS", default: .seconds(20), range: 1...3600)
    configuration.maximumCancellationDuration = .seconds(5)
    return configuration
  }
}
