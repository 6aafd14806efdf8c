import AccountAccess
import AccountKit
import BillingCenter
import Mailer
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import SuiteTransport

/// Everything billing-center reads from its environment, read once at start-up.
struct BillingConfiguration {
  var service: ServiceBasics
  var database: DatabaseURL
  /// The operator port's `/metrics` (`METRICS_HOST`, `METRICS_PORT`; nil when off).
  var metrics: MetricsSettings?
  /// OTLP traces, when a collector is named (`OTEL_EXPORTER_OTLP_ENDPOINT`).
  var tracing: TracingSettings?
  var consoleAddress: String
  var mail: MailSettings
  var catalog: PriceCatalog
  var sessions: PasswordSessions.Policy
  var closingGrace: Duration
  /// The usage calendar's clock (`USAGE_CLOCK_OFFSET_SECONDS`).
  var usageClock: UsageClock
  var closerInterval: Duration
  var hasher: PasswordHasher

  init(config: ConfigReader) throws(ConfigError) {
    service = try ServiceBasics(config: config, defaultPort: 7102)
    database = try DatabaseURL(config: config)
    metrics = try MetricsSettings(
      config: config,
      defaultHost: service.server.host,
      defaultPort: 7192
    )
    tracing = TracingSettings(config: config, serviceName: "billing-center")
    consoleAddress = config.string("CONSOLE_ADDRESS", default: "127.0.0.1:7101")
    mail = try MailSettings(config: config)
    catalog = try PriceCatalog(config: config)
    sessions = try PasswordSessions.Policy(config: config)
    closingGrace = try config.seconds(
      "BILL_CLOSING_GRACE_SECONDS",
      default: .seconds(3600),
      range: 0...172_800
    )
    usageClock = try UsageClock(config: config)
    closerInterval = try config.seconds(
      "BILL_CLOSER_INTERVAL_SECONDS",
      default: .seconds(60),
      range: 1...3600
    )
    hasher = try PasswordHasher(config: config)
  }
}
