import AccountAccess
import AccountKit
import Logging
import Mailer
import PostgresNIO
import PostgresPipeline
import ServiceLifecycle
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import UnixSignals
import WorkspaceConsole

/// workspace-console: the Guance console platform (accounts, workspaces, sessions).
@main
enum WorkspaceConsoleMain {
  static func main() async {
    await ServiceMain.run("workspace-console", grpcPort: 7101) { reader, logger in
      try await run(ConsoleConfiguration(config: reader), logger: logger)
    }
  }

  static func run(_ configuration: ConsoleConfiguration, logger: Logger) async throws {
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
    let pipelinedReads =
      configuration.pipelinedReadConnections > 0
      ? PipelinedReads(
        url: configuration.database,
        statements: PostgresConsoleStore.pipelinedStatements,
        connections: configuration.pipelinedReadConnections,
        logger: logger
      ) : nil
    defer { pipelinedReads?.close() }
    let assembly = ConsoleAssembly(
      database: database,
      pipelinedReads: pipelinedReads,
      hasher: configuration.hasher,
      sessionPolicy: configuration.sessions,
      catalog: configuration.catalog,
      logger: logger
    )
    let started = StartupGate()

    let server = GRPCServerService(
      settings: configuration.service.server,
      services: .init(
        open: assembly.openServices,
        internal: assembly.internalServices,
        names: ConsoleAssembly.serviceNames,
        browser: ConsoleAssembly.browserServices
      ),
      internalCredential: configuration.service.internalCredential,
      health: HealthStatusBoard(),
      logger: logger,
      readyFile: configuration.service.readyFile,
      started: started,
      prepare: {
        try await Migrator(client: postgres, logger: logger).apply(ConsoleAssembly.migrations())
      }
    )
    let mailWorker = MailOutboxWorker(
      database: database,
      sender: try configuration.mail.makeSender(logger: logger),
      logger: logger,
      startAfter: started
    )

    let group = ServiceGroup(
      configuration: try .suite(
        services: tracing + [
          .init(service: postgres),
          .init(service: mailWorker),
          .init(
            service: metrics.whenScraped {
              guard started.isOpen else { return }
              try await Backlog.mailOutbox.read(from: database)
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
