public import GRPCCore
public import Logging
public import MarketplaceClient
public import SuitePersistence

/// The activation flow put together: the saga and the activation service over the gateway's
/// store, reaching the billing center and the console through `billing` and `console` (gRPC
/// clients in production, fakes in the activation tests). Part of `GatewayAssembly`; the
/// activation tests' fixture serves it alone.
public struct ActivationAssembly: Sendable {
  public let saga: ActivationSaga
  public let activations: Activations

  public init(
    store: GatewayStore,
    presence: Presence,
    marketplace: MarketplaceClient,
    billing: any BillingDirectory,
    console: any ConsoleDirectory,
    sagaSettings: ActivationSaga.Settings,
    consoleLoginURL: String,
    registrationsAtOnce: Int = Activations.defaultRegistrationsAtOnce,
    logger: Logger
  ) {
    saga = ActivationSaga(
      store: store,
      presence: presence,
      marketplace: marketplace,
      billing: billing,
      settings: sagaSettings,
      logger: logger
    )
    activations = Activations(
      store: store,
      marketplace: marketplace,
      billing: billing,
      console: console,
      saga: saga,
      consoleLoginURL: consoleLoginURL,
      registrationsAtOnce: registrationsAtOnce
    )
  }

  /// The activation service, which the activation page calls.
  public var openServices: [any RegistrableRPCService] {
    [ActivationHandlers(activations: activations)]
  }
}
