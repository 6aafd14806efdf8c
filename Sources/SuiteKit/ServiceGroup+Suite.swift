public import Logging
public import ServiceLifecycle
import UnixSignals

import func Foundation.exit

extension ServiceGroupConfiguration {
  /// A service executable's group: SIGTERM and SIGINT drain it; a drain still under way after
  /// `SHUTDOWN_DRAIN_SECONDS` (20) is escalated to cancellation, and a process still alive 5 s
  /// after that exits with status 1 (`ShutdownDeadline`). A process that stays alive but no
  /// longer serves is the worst outcome for whatever supervises it: a task waiting forever (a
  /// statement postgres-nio never answers, `PostgresConnection.whileOpen`) once held graceful
  /// shutdown open for good; now the supervisor sees an exit and starts a new process.
  public static func suite(
    services: [ServiceGroupConfiguration.ServiceConfiguration],
    logger: Logger,
    config: ConfigReader = ConfigReader()
  ) throws(ConfigError) -> ServiceGroupConfiguration {
    let drain = try config.seconds("SHUTDOWN_DRAIN_SECONDS", default: .seconds(20), range: 1...3600)
    // Last: the group shuts its services down in reverse order, so this one hears of the
    // shutdown first.
    let deadline = ShutdownDeadline(after: drain + .seconds(5), logger: logger)
    var configuration = ServiceGroupConfiguration(
      services: services + [.init(service: deadline)],
      gracefulShutdownSignals: [.sigterm, .sigint],
      logger: logger
    )
    configuration.maximumGracefulShutdownDuration = drain
    return configuration
  }
}

/// Ends the process `after` its shutdown began, however far the shutdown got: the last resort
/// behind the group's own escalation from draining to cancellation, which a task deaf to
/// cancellation outlives. (ServiceLifecycle's `maximumCancellationDuration` ends it with a
/// fatal error instead, whose backtrace took longer to print than the wait itself.)
struct ShutdownDeadline: Service {
  let after: Duration
  let logger: Logger

  init(after: Duration, logger: Logger) {
    self.after = after
    self.logger = logger
  }

  func run() async {
    // Returns on graceful shutdown, throws when the group is cancelled: either way, the clock starts.
    try? await gracefulShutdown()
    let after = self.after
    let logger = self.logger
    Task.detached {
      try? await Task.sleep(for: after)
      logger.critical("shutdown did not finish in time; exiting", metadata: ["after": "\(after)"])
      exit(1)
    }
  }
}
