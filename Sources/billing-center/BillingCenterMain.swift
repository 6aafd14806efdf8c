import AccountAccess
import AccountKit
import BillingCenter
import Logging
import Mailer
import PostgresNIO
import ServiceLifecycle
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import UnixSignals

/// billing-center: the Guance billing center (billing accounts, cloud accounts, settlement,
/// usage ledger, daily bills in USD).
@main
enum BillingCenterMain {
  static func main() async {
    await ServiceMain.run("billing-center", grpcPort: 7102) { reader, logger in
      try await run(BillingConfiguration(config: reader), logger: logger)
    }
  }

  static func run(_ configuration: BillingConfiguration, logger: Logger) async throws {
    let metrics = Telemetry.bootstrap(configuration.metrics, logger: logger)
    let tracing = try Telemetry.bootstrapTracing(configuration.tracing, logger: logger)
    let postgres = PostgresClient(
      configuration: configuration.database.clientConfiguration,
      backgroundLogger: logger
    )
    let database = Database(
      client: postgres,
      poolSize: configuration.database.poolSize,
      logger: logger
    )
    let console = try GRPCClientService(
      address: configuration.consoleAddress,
      variable: "CONSOLE_ADDRESS",
      tls: configuration.service.clientTLS
    )
    let assembly = BillingAssembly(
      database: database,
      directory: ConsoleWorkspaceDirectory(
        client: console.client,
        internalCredential: configuration.service.internalCredential
      ),
      internalCredential: configuration.service.internalCredential,
      hasher: configuration.hasher,
      sessionPolicy: configuration.sessions,
      catalog: configuration.catalog,
      closingGrace: configuration.closingGrace,
      clock: { [clock = configuration.usageClock] in clock.now() },
      logger: logger
    )
    let started = StartupGate()

    let server = GRPCServerService(
      settings: configuration.service.server,
      services: .init(
        open: assembly.openServices,
        internal: assembly.internalServices,
        names: BillingAssembly.serviceNames,
        browser: BillingAssembly.browserServices
      ),
      internalCredential: configuration.service.internalCredential,
      health: HealthStatusBoard(),
      logger: logger,
      readyFile: configuration.service.readyFile,
      started: started,
      prepare: {
        try await Migrator(client: postgres, logger: logger).apply(BillingAssembly.migrations())
      }
    )
    let mailWorker = MailOutboxWorker(
      database: database,
      sender: try configuration.mail.makeSender(logger: logger),
      logger: logger,
      startAfter: started
    )
    let closer = DayCloser(
      billing: assembly.billing,
      logger: logger,
      startAfter: started,
      interval: configuration.closerInterval
    )

    let group = ServiceGroup(
      configuration: try .suite(
        services: tracing + [
          .init(service: postgres),
          .init(service: console),
          .init(service: mailWorker),
          .init(service: closer),
          .init(
            service: metrics.whenScraped {
              guard started.isOpen else { return }
              try await Backlog.mailOutbox.read(from: database)
              try await Backlog.meteringRecords.read(from: database)
            }
          ),
          .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        logger: logger
      )
    )
    try await group.run()
  }
}
