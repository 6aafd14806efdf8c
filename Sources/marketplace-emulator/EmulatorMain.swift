import Foundation
import Hummingbird
import Logging
import MarketplaceEmulator
import PostgresNIO
import ServiceLifecycle
import SuiteKit
import SuitePersistence
import SuiteTelemetry
import UnixSignals

/// marketplace-emulator: Microsoft's marketplace APIs as the suite uses them, for development
/// and tests (production talks to Microsoft). Its state lives in its own database.
@main
enum EmulatorMain {
  static func main() async {
    await ServiceMain.run("marketplace-emulator") { reader, logger in
      let settings = try EmulatorSettings(config: reader)
      let database = try DatabaseURL(try reader.required("DATABASE_URL"))
      let metrics = try MetricsSettings(
        config: reader,
        defaultHost: settings.host,
        defaultPort: 7390
      )
      try await run(
        settings,
        database: database,
        metrics: metrics,
        readyFile: reader.optional("READY_FILE"),
        logger: logger
      )
    }
  }

  static func run(
    _ settings: EmulatorSettings,
    database url: DatabaseURL,
    metrics metricsSettings: MetricsSettings? = nil,
    readyFile: String?,
    logger: Logger
  )
    async throws
  {
    let metrics = Telemetry.bootstrap(metricsSettings, logger: logger)
    var configuration = url.clientConfiguration
    // The emulator stands in for Microsoft's service, and its state must survive its own
    // restart, which commits do without waiting for the disk; only a crash of PostgreSQL
    // itself could lose the last fraction of a second. Not waiting keeps the emulator's share
    // of a machine it shares with the suite (tests, `make bench`) small.
    configuration.options.additionalStartupParameters.append(("synchronous_commit", "off"))
    let postgres = PostgresClient(configuration: configuration, backgroundLogger: logger)
    let emulator = EmulatorService(
      settings: settings,
      postgres: postgres,
      readyFile: readyFile,
      logger: logger
    )
    let group = ServiceGroup(
      configuration: try .suite(
        services: [
          .init(service: postgres),
          .init(service: metrics),
          .init(service: emulator, successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        logger: logger
      )
    )
    try await group.run()
  }
}

/// The emulator once its database is ready: migrations and the signing key first (a stop
/// asked for meanwhile ends the wait), then the HTTP API and the webhook deliverer (which
/// posts once a webhook URL is set), until the group shuts down.
struct EmulatorService: Service {
  let settings: EmulatorSettings
  let postgres: PostgresClient
  let readyFile: String?
  let logger: Logger

  func run() async throws {
    let prepared: (EmulatorStore, TokenIssuer)
    do {
      prepared = try await cancelWhenGracefulShutdown { try await prepare() }
    } catch  where Task.isShuttingDownGracefully {
      logger.notice("stopped before serving", metadata: ["error": "\(error)"])
      return
    }
    let (store, issuer) = prepared
    let webhook = WebhookTarget(settings.webhookURL)
    let app = Application(
      router: EmulatorRoutes(store: store, issuer: issuer, settings: settings, webhook: webhook)
        .router(),
      configuration: .init(address: .hostname(settings.host, port: settings.port)),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? settings.port
        logger.notice(
          "serving the emulated marketplace",
          metadata: ["address": "\(settings.host):\(port)"]
        )
        if let readyFile { try? ReadyFile.write(readyFile, endpoint: "\(settings.host):\(port)") }
      },
      logger: logger
    )
    // Both inherit the group's graceful shutdown through this task.
    try await withThrowingDiscardingTaskGroup { group in
      let deliverer = WebhookDeliverer(
        store: store,
        issuer: issuer,
        target: webhook,
        tenantID: settings.tenantID,
        audience: settings.clientID,
        logger: logger,
        autoAcceptAfter: settings.autoAcceptAfter
      )
      group.addTask { try await deliverer.run() }
      group.addTask { try await app.run() }
    }
  }

  private func prepare() async throws -> (EmulatorStore, TokenIssuer) {
    try await Migrator(client: postgres, logger: logger).apply(EmulatorStore.migrations())
    let store = EmulatorStore(
      database: Database(client: postgres, logger: logger),
      catalog: .guance,
      logger: logger
    )
    let key = try await store.signingKey()
    return (store, try await TokenIssuer(kid: key.kid, privateKeyPEM: key.pem))
  }
}
