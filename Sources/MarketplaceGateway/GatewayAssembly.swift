public import GRPCCore
public import Logging
public import MarketplaceClient
public import SuitePersistence

/// The marketplace gateway put together, flow by flow: activation (`ActivationAssembly`), the
/// subscription lifecycle and metering over one store, and the gRPC services that serve them.
/// `billing` is the billing center in all three of its roles (the directory of billing center
/// accounts, settlements, the metering ledger), `console` and `workspaces` the console.
/// `marketplace-gateway`'s main serves these services, with its workers, landing page, webhook
/// and telemetry around them.
public struct GatewayAssembly: Sendable {
  /// What the flows are told: the saga's lease and retries, the lifecycle's plans and
  /// timeouts, metering's batches, and where a buyer logs in once activated.
  public struct Settings: Sendable {
    public var saga: ActivationSaga.Settings
    public var lifecycle: SubscriptionLifecycle.Settings
    public var metering: MeteringSubmitter.Settings
    public var consoleLoginURL: String
    /// New accounts registered at once; more are refused with RESOURCE_EXHAUSTED.
    public var registrationsAtOnce: Int

    public init(
      saga: ActivationSaga.Settings,
      lifecycle: SubscriptionLifecycle.Settings,
      metering: MeteringSubmitter.Settings,
      consoleLoginURL: String,
      registrationsAtOnce: Int = Activations.defaultRegistrationsAtOnce
    ) {
      self.registrationsAtOnce = registrationsAtOnce
      self.saga = saga
      self.lifecycle = lifecycle
      self.metering = metering
      self.consoleLoginURL = consoleLoginURL
    }
  }

  public let store: GatewayStore
  public let activation: ActivationAssembly
  public let lifecycle: SubscriptionLifecycle
  public let submitter: MeteringSubmitter

  public init(
    database: Database,
    presence: Presence,
    marketplace: MarketplaceClient,
    billing: some BillingDirectory & SubscriptionSettlements & MeteringLedger,
    console: any ConsoleDirectory,
    workspaces: any WorkspaceStatuses,
    settings: Settings,
    logger: Logger
  ) {
    store = GatewayStore(database: database, logger: logger)
    activation = ActivationAssembly(
      store: store,
      presence: presence,
      marketplace: marketplace,
      billing: billing,
      console: console,
      sagaSettings: settings.saga,
      consoleLoginURL: settings.consoleLoginURL,
      registrationsAtOnce: settings.registrationsAtOnce,
      logger: logger
    )
    lifecycle = SubscriptionLifecycle(
      store: store,
      marketplace: marketplace,
      settlements: billing,
      workspaces: workspaces,
      settings: settings.lifecycle,
      logger: logger
    )
    submitter = MeteringSubmitter(
      ledger: billing,
      marketplace: marketplace,
      store: store,
      settings: settings.metering,
      logger: logger
    )
  }

  /// What the activation page calls.
  public var openServices: [any RegistrableRPCService] { activation.openServices }

  /// What operators call (`guancectl`, with the internal credential): lifecycle operations
  /// and metering.
  public var internalServices: [any RegistrableRPCService] {
    [GatewayAdminHandlers(store: store, lifecycle: lifecycle, submitter: submitter)]
  }

  /// The services' names, as health reports them.
  /// The service web pages call (Connect, gRPC-Web); the others stay gRPC only.
  public static let browserServices: Set<String> = ["guance.gateway.v1.ActivationService"]

  public static let serviceNames = [
    "guance.gateway.v1.ActivationService", "guance.gateway.v1.GatewayAdminService",
  ]

  public static func migrations() throws -> [Migration] { try GatewayStore.migrations() }
}
