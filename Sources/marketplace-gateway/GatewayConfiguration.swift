import MarketplaceClient
import MarketplaceGateway
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import SuiteTransport

/// Everything marketplace-gateway reads from its environment, read once at start-up.
struct GatewayConfiguration {
  var service: ServiceBasics
  var database: DatabaseURL
  /// The operator port's `/metrics` (`METRICS_HOST`, `METRICS_PORT`; nil when off).
  var metrics: MetricsSettings?
  /// OTLP traces, when a collector is named (`OTEL_EXPORTER_OTLP_ENDPOINT`).
  var tracing: TracingSettings?
  var landingHost: String
  var landingPort: Int
  /// HTTPS for the landing page and the webhook (Microsoft posts webhooks over HTTPS only).
  var landingTLS: ServerTLS?
  var billingAddress: String
  var consoleAddress: String
  /// Deadlines of the gateway's calls to the billing center and the console.
  var billingTimeout: Duration
  var consoleTimeout: Duration
  var marketplace: MarketplaceClient.Settings
  var activationPageURL: String
  var consoleLoginURL: String
  /// `ACTIVATION_REGISTRATIONS_AT_ONCE` (8): new accounts registered at once.
  var registrationsAtOnce: Int
  /// Where the reference activation page's scripts call the public services.
  var activationPage: ActivationPageRoutes.Addresses
  var saga: ActivationSaga.Settings
  var reconcileInterval: Duration
  var webhook: WebhookAuthenticator.Settings
  var lifecycle: SubscriptionLifecycle.Settings
  var lifecycleReconcileInterval: Duration
  var metering: MeteringSubmitter.Settings
  var meteringInterval: Duration
  var meteringReconcileInterval: Duration

  init(config: ConfigReader) throws(ConfigError) {
    service = try ServiceBasics(config: config, defaultPort: 7100)
    database = try DatabaseURL(config: config)
    metrics = try MetricsSettings(
      config: config,
      defaultHost: service.server.host,
      defaultPort: 7190
    )
    tracing = TracingSettings(config: config, serviceName: "marketplace-gateway")
    landingHost = config.string("LANDING_HOST", default: service.server.host)
    landingPort = try config.int("LANDING_PORT", default: 7180, range: 0...65535)
    landingTLS = try ServerTLS(config: config, prefix: "LANDING_TLS")
    billingAddress = config.string("BILLING_ADDRESS", default: "127.0.0.1:7102")
    consoleAddress = config.string("CONSOLE_ADDRESS", default: "127.0.0.1:7101")
    billingTimeout = try config.seconds(
      "BILLING_TIMEOUT_SECONDS",
      default: .seconds(5),
      range: 1...120
    )
    consoleTimeout = try config.seconds(
      "CONSOLE_TIMEOUT_SECONDS",
      default: .seconds(10),
      range: 1...120
    )
    marketplace = MarketplaceClient.Settings(
      apiBaseURL: config.string(
        "MARKETPLACE_API_URL",
        default: "https://marketplaceapi.microsoft.com/api"
      ),
      loginBaseURL: config.string(
        "MARKETPLACE_LOGIN_URL",
        default: "https://login.microsoftonline.com"
      ),
      tenantID: try config.required("MARKETPLACE_TENANT_ID"),
      clientID: try config.required("MARKETPLACE_CLIENT_ID"),
      clientSecret: try config.required("MARKETPLACE_CLIENT_SECRET"),
      timeout: try config.seconds(
        "MARKETPLACE_TIMEOUT_SECONDS",
        default: .seconds(10),
        range: 1...120
      )
    )
    // By default the gateway's own reference page, beside the landing page (a relative
    // redirect: the browser stays on the landing page's origin).
    activationPageURL = config.string("ACTIVATION_PAGE_URL", default: "/activate")
    consoleLoginURL = config.string("CONSOLE_LOGIN_URL", default: "/login")
    registrationsAtOnce = try config.int(
      "ACTIVATION_REGISTRATIONS_AT_ONCE",
      default: Activations.defaultRegistrationsAtOnce,
      range: 1...10_000
    )
    activationPage = ActivationPageRoutes.Addresses(
      activationAPI: config.string(
        "ACTIVATION_API_URL",
        default: "http://\(service.server.host):\(service.server.port)"
      ),
      consoleAPI: config.string(
        "CONSOLE_API_URL",
        default: "http://\(consoleAddress.split(separator: ",").first ?? "127.0.0.1:7101")"
      )
    )
    // A saga step settles with the billing center, then makes up to three marketplace calls
    // (ask, activate, ask again), each retried up to `attempts` times: the lease must outlast
    // them all, or a second runner could take the saga over mid-call (harmless to the
    // marketplace, which activates once, but doubled in the audit trail).
    let minimumLease =
      marketplace.timeout * (3 * marketplace.attempts) + billingTimeout + .seconds(5)
    let lease = try config.seconds(
      "ACTIVATION_LEASE_SECONDS",
      default: max(.seconds(150), minimumLease),
      range: 1...3600
    )
    guard lease >= minimumLease else {
      throw .invalid(
        variable: "ACTIVATION_LEASE_SECONDS",
        value: "\(lease.components.seconds)",
        expected:
          "at least \(minimumLease.components.seconds) s (3 × MARKETPLACE_TIMEOUT_SECONDS × \(marketplace.attempts) attempts + BILLING_TIMEOUT_SECONDS + 5 s)"
      )
    }
    saga = ActivationSaga.Settings(
      lease: lease,
      retryDelay: try config.seconds(
        "ACTIVATION_RETRY_SECONDS",
        default: .seconds(5),
        range: 1...3600
      ),
      maxRetryDelay: try config.seconds(
        "ACTIVATION_MAX_RETRY_SECONDS",
        default: .seconds(300),
        range: 1...86400
      )
    )
    // A saga whose process died is free at once: the reconciler's interval is how long it waits.
    reconcileInterval = try config.seconds(
      "ACTIVATION_RECONCILE_SECONDS",
      default: .seconds(2),
      range: 1...3600
    )
    // Entra serves the tenant's OpenID configuration here; the emulator serves its own.
    webhook = WebhookAuthenticator.Settings(
      openIDConfigurationURL: config.string(
        "WEBHOOK_OPENID_CONFIGURATION_URL",
        default:
          "\(marketplace.loginBaseURL)/\(marketplace.tenantID)/.well-known/openid-configuration"
      ),
      audience: marketplace.clientID,
      tenantID: marketplace.tenantID
    )
    let plansText = config.string(
      "MARKETPLACE_PLANS",
      default: "commercial,commercial-seats:1-1000"
    )
    guard let plans = PlanRules(parsing: plansText) else {
      throw .invalid(
        variable: "MARKETPLACE_PLANS",
        value: plansText,
        expected:
          "plan ids separated by commas, per-seat ones as id:min-max (e.g. commercial,commercial-seats:1-1000)"
      )
    }
    let retentionDays = try config.int("DATA_RETENTION_DAYS", default: 30, range: 7...3650)
    lifecycle = SubscriptionLifecycle.Settings(
      plans: plans,
      dataRetention: .seconds(retentionDays * 86400)
    )
    lifecycleReconcileInterval = try config.seconds(
      "LIFECYCLE_RECONCILE_SECONDS",
      default: .seconds(300),
      range: 1...86400
    )
    metering = MeteringSubmitter.Settings(
      deadlineMargin: try config.seconds(
        "METERING_DEADLINE_MARGIN_SECONDS",
        default: .seconds(4 * 3600),
        range: 0...86400
      ),
      clock: try UsageClock(config: config)
    )
    meteringInterval = try config.seconds(
      "METERING_INTERVAL_SECONDS",
      default: .seconds(60),
      range: 1...3600
    )
    meteringReconcileInterval = try config.seconds(
      "METERING_RECONCILE_SECONDS",
      default: .seconds(3600),
      range: 1...86400
    )
  }
}
