import Foundation
import Hummingbird
import Logging
import MarketplaceEmulator
import PostgresNIO
import ServiceLifecycle
import SuitePersistence
import SuiteRuntime
import UnixSignals

/// marketplace-emulator: Microsoft's marketplace APIs as the suite uses them, for development
/// and tests (production talks to Microsoft). Its state lives in its own database.
@main
enum EmulatorMain {
  static func main() async {
    await ServiceMain.run("marketplace-emulator") { reader, logger in
      let settings = try EmulatorSettings(config: reader)
      let database = try DatabaseURL(try reader.required("DATABASE_URL"))
      try await run(settings, database: database, readyFile: reader.optional("READY_FILE"), logger: logger)
    }
  }

  static func run(_ settings: EmulatorSettings, database url: DatabaseURL, readyFile: String?, logger: Logger)
    async throws
  {
    let postgres = PostgresClient(configuration: url.clientConfiguration, backgroundLogger: logger)
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { await postgres.run() }
      try await Migrator(client: postgres, logger: logger).apply(EmulatorStore.migrations())
      let store = EmulatorStore(
        database: Database(client: postgres, logger: logger), catalog: .guance, logger: logger)
      let key = try await store.signingKey()
      let issuer = try await TokenIssuer(kid: key.kid, privateKeyPEM: key.pem)
      let app = Application(
        router: EmulatorRoutes(store: store, issuer: issuer, settings: settings).router(),
        configuration: .init(address: .hostname(settings.host, port: settings.port)),
        onServerRunning: { channel in
          let port = channel.localAddress?.port ?? settings.port
          logger.notice("serving the emulated marketplace", metadata: ["address": "\(settings.host):\(port)"])
          if let readyFile { try? ReadyFile.write(readyFile, endpoint: "\(settings.host):\(port)") }
        },
        logger: logger)
      var members: [any Service] = []
      if let webhookURL = settings.webhookURL {
        members.append(
          WebhookDeliverer(
            store: store, issuer: issuer, url: webhookURL, tenantID: settings.tenantID,
            audience: settings.clientID, logger: logger, autoAcceptAfter: settings.autoAcceptAfter))
      }
      members.append(app)
      let services = ServiceGroup(
        configuration: .init(services: members, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
      try await services.run()
      // The server has drained; the database client can go.
      group.cancelAll()
    }
  }
}
