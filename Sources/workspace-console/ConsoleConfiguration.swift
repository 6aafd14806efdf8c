import AccountKit
import Mailer
import SuitePersistence
import SuiteRuntime
import WorkspaceConsole

/// Everything workspace-console reads from its environment, read once at start-up.
struct ConsoleConfiguration {
  var server: ServerSettings
  var database: DatabaseURL
  var internalCredential: String
  var mail: MailSettings
  var catalog: SiteCatalog
  var policy: GuanceConsole.Policy
  var hashWorkers: Int
  var hashQueue: Int
  var readyFile: String?

  init(config: ConfigReader) throws(ConfigError) {
    server = try ServerSettings(config: config, defaultPort: 7101)
    database = try DatabaseURL(try config.required("DATABASE_URL"))
    internalCredential = try config.required("INTERNAL_CREDENTIAL")
    mail = try MailSettings(config: config)
    catalog = try SiteCatalog(config: config)
    policy = GuanceConsole.Policy()
    policy.sessionIdleTimeout = try config.seconds(
      "SESSION_IDLE_TIMEOUT_SECONDS", default: policy.sessionIdleTimeout, range: 60...86400)
    policy.sessionAbsoluteLifetime = try config.seconds(
      "SESSION_ABSOLUTE_LIFETIME_SECONDS", default: policy.sessionAbsoluteLifetime,
      range: 300...(30 * 86400))
    policy.maxLoginFailuresPerAccountPerHour = try config.int(
      "LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR", default: policy.maxLoginFailuresPerAccountPerHour,
      range: 1...100)
    policy.maxLoginFailuresPerPeerPerHour = try config.int(
      "LOGIN_MAX_FAILURES_PER_PEER_PER_HOUR", default: policy.maxLoginFailuresPerPeerPerHour,
      range: 1...1_000_000)
    hashWorkers = try config.int("PASSWORD_HASH_WORKERS", default: 2, range: 1...64)
    hashQueue = try config.int("PASSWORD_HASH_QUEUE", default: 32, range: 0...10_000)
    readyFile = config.optional("READY_FILE")
  }
}
