import AccountAccess
import AccountKit
import Logging
import Mailer
import PostgresNIO
import ServiceLifecycle
import UnixSignals
import SuitePersistence
import SuiteRuntime
import WorkspaceConsole

import func Foundation.exit

/// workspace-console: the Guance console platform (accounts, workspaces, sessions).
@main
enum WorkspaceConsoleMain {
  static func main() async {
    let logger = Logger(label: "workspace-console")
    do {
      let reader = ConfigReader()
      if CommandLine.arguments.dropFirst().first == "--health-check" {
        let port = try ServerSettings(config: reader, defaultPort: 7101).port
        exit(await HealthProbe.isServing(port: port) ? 0 : 1)
      }
      _ = try LoggingSetup.bootstrap(config: reader)
      try await run(ConsoleConfiguration(config: reader), logger: logger)
    } catch let error as ConfigError {
      logger.critical("\(error)")
      exit(2)
    } catch {
      logger.critical("workspace-console stopped", metadata: ["error": "\(error)"])
      exit(1)
    }
  }

  static func run(_ configuration: ConsoleConfiguration, logger: Logger) async throws {
    let postgres = PostgresClient(
      configuration: configuration.database.clientConfiguration, backgroundLogger: logger)
    let database = Database(client: postgres, logger: logger)
    let store = PostgresConsoleStore(database: database, logger: logger)
    let hasher = PasswordHasher(
      workers: configuration.hashWorkers, maxQueued: configuration.hashQueue)
    let console = GuanceConsole(
      store: store, hasher: hasher,
      sessions: PasswordSessions(
        database: database, hasher: hasher, policy: configuration.sessions, logger: logger),
      challenges: EmailChallenges(database: database, logger: logger),
      catalog: configuration.catalog)
    let started = StartupGate()

    let server = GRPCServerService(
      settings: configuration.server,
      services: .init(
        open: [WorkspaceConsoleHandlers(console: console)],
        internal: [WorkspaceDirectoryHandlers(console: console)],
        names: [
          "guance.console.v1.WorkspaceConsoleService",
          "guance.console.v1.WorkspaceDirectoryService",
        ]),
      internalCredential: configuration.internalCredential,
      health: HealthStatusBoard(),
      logger: logger,
      readyFile: configuration.readyFile,
      started: started,
      prepare: {
        try await Migrator(client: postgres, logger: logger)
          .apply(PostgresConsoleStore.migrations())
      })
    let mailWorker = MailOutboxWorker(
      database: database, sender: try configuration.mail.makeSender(logger: logger),
      logger: logger, startAfter: started)

    let group = ServiceGroup(
      configuration: .init(
        services: [
          .init(service: postgres),
          .init(service: mailWorker),
          .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
  }
}
