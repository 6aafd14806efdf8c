import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MarketplaceClient
import MarketplaceGateway
import PostgresNIO
import ServiceLifecycle
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import SuiteTransport
import UnixSignals

/// marketplace-gateway: the marketplace's landing page and the activation flow's API.
@main
enum GatewayMain {
  static func main() async {
    await ServiceMain.run("marketplace-gateway", grpcPort: 7100) { reader, logger in
      try await run(GatewayConfiguration(config: reader), logger: logger)
    }
  }

  static func run(_ configuration: GatewayConfiguration, logger: Logger) async throws {
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
    let billing = try GRPCClientService(
      address: configuration.billingAddress,
      variable: "BILLING_ADDRESS",
      tls: configuration.service.clientTLS
    )
    let console = try GRPCClientService(
      address: configuration.consoleAddress,
      variable: "CONSOLE_ADDRESS",
      tls: configuration.service.clientTLS
    )
    let presence = Presence(database: database, logger: logger)
    let marketplace = MarketplaceClient(settings: configuration.marketplace, logger: logger)
    let assembly = GatewayAssembly(
      database: database,
      presence: presence,
      marketplace: marketplace,
      billing: GRPCBillingDirectory(
        client: billing.client,
        internalCredential: configuration.service.internalCredential,
        timeout: configuration.billingTimeout
      ),
      console: GRPCConsoleDirectory(
        client: console.client,
        internalCredential: configuration.service.internalCredential,
        timeout: configuration.consoleTimeout
      ),
      workspaces: GRPCWorkspaceStatuses(
        client: console.client,
        internalCredential: configuration.service.internalCredential,
        timeout: configuration.consoleTimeout
      ),
      settings: .init(
        saga: configuration.saga,
        lifecycle: configuration.lifecycle,
        metering: configuration.metering,
        consoleLoginURL: configuration.consoleLoginURL,
        registrationsAtOnce: configuration.registrationsAtOnce
      ),
      logger: logger
    )
    let store = assembly.store
    let activations = assembly.activation.activations
    let lifecycle = assembly.lifecycle
    let submitter = assembly.submitter
    let started = StartupGate()
    let doorbell = Doorbell()
    let server = GRPCServerService(
      settings: configuration.service.server,
      services: .init(
        open: assembly.openServices,
        internal: assembly.internalServices,
        names: GatewayAssembly.serviceNames,
        browser: GatewayAssembly.browserServices
      ),
      internalCredential: configuration.service.internalCredential,
      health: HealthStatusBoard(),
      logger: logger,
      readyFile: configuration.service.readyFile,
      started: started,
      prepare: {
        try await Migrator(client: postgres, logger: logger).apply(GatewayAssembly.migrations())
        // Nothing is claimed before the process is present in the database.
        guard await presence.established() else { throw CancellationError() }
      }
    )
    let readyFile = configuration.service.readyFile
    let router = LandingRoutes(
      activations: activations,
      activationPageURL: configuration.activationPageURL,
      started: started
    ).router()
    WebhookRoutes(
      authenticator: WebhookAuthenticator(settings: configuration.webhook, logger: logger),
      store: store,
      doorbell: doorbell,
      started: started,
      logger: logger
    ).add(to: router)
    try ActivationPageRoutes(addresses: configuration.activationPage).add(to: router)
    let landing = Application(
      router: router,
      server: try configuration.landingTLS.map {
        try .tls(
          .http1(),
          tlsConfiguration: $0.nioConfiguration(applicationProtocols: ["http/1.1"])
        )
      } ?? .http1(),
      configuration: .init(
        address: .hostname(configuration.landingHost, port: configuration.landingPort)
      ),
      onServerRunning: { channel in
        let port = channel.localAddress?.port ?? configuration.landingPort
        logger.notice(
          "serving the landing page",
          metadata: ["address": "\(configuration.landingHost):\(port)"]
        )
        // Beside the gRPC ready file, for whoever started us.
        if let readyFile {
          try? ReadyFile.write(
            readyFile + ".landing",
            endpoint: "\(configuration.landingHost):\(port)"
          )
        }
      },
      logger: logger
    )

    let group = ServiceGroup(
      configuration: try .suite(
        services: tracing + [
          .init(service: postgres),
          .init(service: presence),
          .init(service: billing),
          .init(service: console),
          .init(service: landing),
          .init(
            service: metrics.whenScraped {
              guard started.isOpen else { return }
              try await Backlog.activationSagas.read(from: database)
              try await Backlog.lifecycleOperations.read(from: database)
            }
          ),
          .init(
            service: ActivationReconciler(
              activations: activations,
              logger: logger,
              startAfter: started,
              interval: configuration.reconcileInterval
            )
          ),
          .init(
            service: LifecycleWorker(
              lifecycle: lifecycle,
              presence: presence,
              doorbell: doorbell,
              logger: logger,
              startAfter: started
            )
          ),
          .init(
            service: LifecycleReconciler(
              lifecycle: lifecycle,
              doorbell: doorbell,
              logger: logger,
              startAfter: started,
              interval: configuration.lifecycleReconcileInterval
            )
          ),
          .init(
            service: MeteringService(
              submitter: submitter,
              logger: logger,
              startAfter: started,
              interval: configuration.meteringInterval,
              reconcileInterval: configuration.meteringReconcileInterval
            )
          ),
          .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        logger: logger
      )
    )
    try await group.run()
  }
}
