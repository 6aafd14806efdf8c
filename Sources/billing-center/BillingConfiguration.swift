import AccountAccess
import BillingCenter
import Mailer
import SuitePersistence
import SuiteRuntime

/// Everything billing-center reads from its environment, read once at start-up.
struct BillingConfiguration {
  var server: ServerSettings
  var database: DatabaseURL
  var internalCredential: String
  var consoleAddress: String
  var mail: MailSettings
  var catalog: PriceCatalog
  var sessions: PasswordSessions.Policy
  var closingGrace: Duration
  var closerInterval: Duration
  var hashWorkers: Int
  var hashQueue: Int
  var readyFile: String?

  init(config: ConfigReader) throws(ConfigError) {
    server = try ServerSettings(config: config, defaultPort: 7102)
    database = try DatabaseURL(try config.required("DATABASE_URL"))
    internalCredential = try config.required("INTERNAL_CREDENTIAL")
    consoleAddress = config.string("CONSOLE_ADDRESS", default: "127.0.0.1:7101")
    mail = try MailSettings(config: config)
    catalog = try PriceCatalog(config: config)
    sessions = try PasswordSessions.Policy(config: config)
    closingGrace = try config.seconds("BILL_CLOSING_GRACE_SECONDS", default: .seconds(3600), range: 0...172_800)
    closerInterval = try config.seconds("BILL_CLOSER_INTERVAL_SECONDS", default: .seconds(60), range: 1...3600)
    hashWorkers = try config.int("PASSWORD_HASH_WORKERS", default: 2, range: 1...64)
    hashQueue = try config.int("PASSWORD_HASH_QUEUE", default: 32, range: 0...10_000)
    readyFile = config.optional("READY_FILE")
  }
}
