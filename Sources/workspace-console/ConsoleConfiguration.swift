import AccountAccess
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
  var sessions: PasswordSessions.Policy
  var hashWorkers: Int
  var hashQueue: Int
  var readyFile: String?

  init(config: ConfigReader) throws(ConfigError) {
    server = try ServerSettings(config: config, defaultPort: 7101)
    database = try DatabaseURL(try config.required("DATABASE_URL"))
    internalCredential = try config.required("INTERNAL_CREDENTIAL")
    mail = try MailSettings(config: config)
    catalog = try SiteCatalog(config: config)
    sessions = try PasswordSessions.Policy(config: config)
    hashWorkers = try config.int("PASSWORD_HASH_WORKERS", default: 2, range: 1...64)
    hashQueue = try config.int("PASSWORD_HASH_QUEUE", default: 32, range: 0...10_000)
    readyFile = config.optional("READY_FILE")
  }
}
