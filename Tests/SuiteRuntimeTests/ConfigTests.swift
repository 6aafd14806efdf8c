import SuitePersistence
import SuiteRuntime
import Testing

@Suite("Configuration from the environment")
struct ConfigTests {
  @Test("a missing required variable is named")
  func missing() {
    let config = ConfigReader(environment: ["OTHER": "x", "EMPTY": " "])
    #expect(throws: ConfigError.missing(variable: "EMPTY")) { try config.required("EMPTY") }
    #expect(throws: ConfigError.missing(variable: "DATABASE_URL")) { try config.required("DATABASE_URL") }
  }

  @Test("numbers, flags and durations are checked against their ranges")
  func typed() throws {
    let config = ConfigReader(environment: ["PORT": "70000", "FLAG": "maybe", "SECS": "30"])
    #expect(throws: ConfigError.self) { try config.int("PORT", default: 1, range: 0...65535) }
    #expect(throws: ConfigError.self) { try config.bool("FLAG", default: false) }
    #expect(try config.seconds("SECS", default: .seconds(1)) == .seconds(30))
    #expect(try config.int("UNSET", default: 7) == 7)
  }

  @Test("server limits default to explicit values and can be set")
  func serverSettings() throws {
    let defaults = try ServerSettings(config: ConfigReader(environment: [:]), defaultPort: 7101)
    #expect(defaults.port == 7101)
    #expect(defaults.maxConcurrentStreams == 256)
    #expect(defaults.maxRequestBytes == 4 << 20)
    let tuned = try ServerSettings(
      config: ConfigReader(environment: ["GRPC_PORT": "0", "GRPC_MAX_CONCURRENT_STREAMS": "16"]),
      defaultPort: 7101)
    #expect(tuned.port == 0)
    #expect(tuned.maxConcurrentStreams == 16)
  }

  @Test("database URLs are parsed and never echo a password")
  func databaseURL() throws {
    let url = try DatabaseURL("postgres://svc:secret@db.internal:6543/console")
    #expect(url.host == "db.internal")
    #expect(url.port == 6543)
    #expect(url.username == "svc")
    #expect(url.database == "console")
    do {
      _ = try DatabaseURL("postgres://svc:secret@db.internal:6543/")
      Issue.record("a URL without a database was accepted")
    } catch {
      #expect(!"\(error)".contains("secret"))
    }
    #expect(throws: ConfigError.self) { try DatabaseURL("mysql://a@b/c") }
  }
}
