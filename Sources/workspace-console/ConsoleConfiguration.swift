import AccountAccess
import AccountKit
import Mailer
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTelemetry
import SuiteTransport
import WorkspaceConsole

/// Everything workspace-console reads from its environment, read once at start-up.
struct ConsoleConfiguration {
  var service: ServiceBasics
  var database: DatabaseURL
  /// `DATABASE_PIPELINED_READS`: libpq connections in pipeline mode for LookupWorkspace's read
  /// (`PipelinedReads`); 0 sends it through the pool like every other statement.
  var pipelinedReadConnections: Int
  /// The operator port's `/metrics` (`METRICS_HOST`, `METRICS_PORT`; nil when off).
  var metrics: MetricsSettings?
  /// OTLP traces, when a collector is named (`OTEL_EXPORTER_OTLP_ENDPOINT`).
  var tracing: TracingSettings?
  var mail: MailSettings
  var catalog: SiteCatalog
  var sessions: PasswordSessions.Policy
  var hasher: PasswordHasher

  init(config: ConfigReader) throws(ConfigError) {
    service = try ServiceBasics(config: config, defaultPort: 7101)
    database = try DatabaseURL(config: config)
    pipelinedReadConnections = try config.int("DATABASE_PIPELINED_READS", default: 1, range: 0...16)
    metrics = try MetricsSettings(
      config: config,
      defaultHost: service.server.host,
      defaultPort: 7191
    )
    tracing = TracingSettings(config: config, serviceName: "workspace-console")
    mail = try MailSettings(config: config)
    catalog = try SiteCatalog(config: config)
    sessions = try PasswordSessions.Policy(config: config)
    hasher = try PasswordHasher(config: config)
  }
}
