import Foundation
import Logging
import PostgresNIO
import SuiteKit
import SuitePersistence
import SuiteRPC
import SuiteTesting
import SuiteTransport
import Testing

@Suite("Configuration from the environment")
struct ConfigTests {
  @Test("a missing required variable is named")
  func missing() {
    let config = ConfigReader(environment: ["OTHER": "x", "EMPTY": " "])
    #expect(throws: ConfigError.missing(variable: "EMPTY")) { try config.required("EMPTY") }
    #expect(throws: ConfigError.missing(variable: "DATABASE_URL")) {
      try config.required("DATABASE_URL")
    }
  }

  @Test("numbers, flags and durations are checked against their ranges")
  func typed() throws {
    let config = ConfigReader(environment: ["PORT": "70000", "FLAG": "maybe", "SECS": "30"])
    #expect(throws: ConfigError.self) { try config.int("PORT", default: 1, range: 0...65535) }
    #expect(throws: ConfigError.self) { try config.bool("FLAG", default: false) }
    #expect(try config.seconds("SECS", default: .seconds(1)) == .seconds(30))
    #expect(try config.int("UNSET", default: 7) == 7)
  }

  @Test("the usage clock is the wall clock unless shifted by whole seconds, at most a week")
  func usageClock() throws {
    let wall = try UsageClock(config: ConfigReader(environment: [:]))
    #expect(wall.offset == .zero)
    let behind = try UsageClock(
      config: ConfigReader(environment: ["USAGE_CLOCK_OFFSET_SECONDS": "-43200"])
    )
    #expect(behind.offset == .seconds(-43200))
    #expect(behind.environment == ["USAGE_CLOCK_OFFSET_SECONDS": "-43200"])
    // Twelve hours behind the wall clock, read between two readings of the wall clock.
    let before = Date()
    let read = behind.now()
    let after = Date()
    #expect(read >= before.addingTimeInterval(-43200) && read <= after.addingTimeInterval(-43200))
    for bad in ["604801", "1.5", "1733400000000", "noon"] {
      #expect(throws: ConfigError.self) {
        try UsageClock(config: ConfigReader(environment: ["USAGE_CLOCK_OFFSET_SECONDS": bad]))
      }
    }
  }

  @Test(
    "browser origins: http(s) origins separated by commas, never *, matched whatever their case or trailing slash"
  )
  func browserOrigins() throws {
    let none = try ServerSettings(config: ConfigReader(environment: [:]), defaultPort: 7101)
    #expect(none.browserOrigins == .none)
    #expect(!none.browserOrigins.allows("http://localhost:7180"))
    let listed = try ServerSettings(
      config: ConfigReader(
        environment: ["BROWSER_ORIGINS": "http://localhost:7180, https://Activate.Example.com/"]
      ),
      defaultPort: 7101
    )
    #expect(listed.browserOrigins.allows("https://activate.example.com"))
    #expect(listed.browserOrigins.allows("http://localhost:7180"))
    #expect(!listed.browserOrigins.allows("http://localhost:7181"))
    #expect(!listed.browserOrigins.allows("http://activate.example.com"))
    for bad in ["*", "activate.example.com", "ftp://files.example.com"] {
      #expect(throws: ConfigError.self) {
        try ServerSettings(
          config: ConfigReader(environment: ["BROWSER_ORIGINS": "http://localhost:7180,\(bad)"]),
          defaultPort: 7101
        )
      }
    }
  }

  @Test("server limits default to explicit values and can be set")
  func serverSettings() throws {
    let defaults = try ServerSettings(config: ConfigReader(environment: [:]), defaultPort: 7101)
    #expect(defaults.port == 7101)
    #expect(defaults.maxConcurrentStreams == 24)
    #expect(defaults.maxRequestBytes == 4 << 20)
    #expect(defaults.flushDelay == nil)
    #expect(defaults.transport == .suite)
    #expect(defaults.unaryOnEventLoop)
    let tuned = try ServerSettings(
      config: ConfigReader(
        environment: [
          "GRPC_PORT": "0", "GRPC_MAX_CONCURRENT_STREAMS": "64",
          "GRPC_FLUSH_DELAY_MICROSECONDS": "100",
          "GRPC_SERVER_TRANSPORT": "grpc-swift", "GRPC_UNARY_ON_EVENT_LOOP": "false",
        ]),
      defaultPort: 7101
    )
    #expect(tuned.port == 0)
    #expect(tuned.maxConcurrentStreams == 64)
    #expect(tuned.flushDelay == .microseconds(100))
    #expect(tuned.transport == .grpcSwift)
    #expect(!tuned.unaryOnEventLoop)
    #expect(throws: ConfigError.self) {
      try ServerSettings(
        config: ConfigReader(environment: ["GRPC_SERVER_TRANSPORT": "h3"]),
        defaultPort: 7101
      )
    }
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

  @Test(
    "database URL options: TLS modes, a CA file read at start-up, pool and timeouts; anything else refused by name"
  )
  func databaseURLOptions() throws {
    let plain = try DatabaseURL("postgres://svc@db:5432/console")
    #expect(plain.tls == .disable)
    #expect(plain.poolSize == 20)
    #expect(plain.clientConfiguration.options.maximumConnections == 20)

    let tuned = try DatabaseURL(
      "postgres://svc@db/console?sslmode=require&pool_size=5&statement_timeout=1500&connect_timeout=3"
    )
    #expect(tuned.tls == .require)
    #expect(tuned.clientConfiguration.options.maximumConnections == 5)
    #expect(tuned.clientConfiguration.options.connectTimeout == .seconds(3))
    let startup = tuned.clientConfiguration.options.additionalStartupParameters
    #expect(startup.contains { $0.0 == "statement_timeout" && $0.1 == "1500" })
    // What a service hands to the processes it starts keeps every option.
    let again = try DatabaseURL(tuned.text)
    #expect(
      again.tls == .require && again.poolSize == 5 && again.statementTimeoutMilliseconds == 1500
    )
    #expect(again.connectTimeout == .seconds(3))
    #expect(
      try DatabaseURL("postgres://svc@db/console?sslmode=verify-full&sslrootcert=system").tls
        == .verifyFull
    )

    let ca = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ca-\(UUID().uuidString).pem"
    )
    defer { try? FileManager.default.removeItem(at: ca) }
    func refusal(_ options: String) -> String? {
      do {
        _ = try DatabaseURL("postgres://svc:secret@db/console?\(options)")
        return nil
      } catch {
        return "\(error)"
      }
    }
    for (options, named) in [
      ("sslmode=always", "sslmode"), ("sslmode=require&sslmode=disable", "sslmode"),
      ("pool_size=0", "pool_size"), ("pool_size=many", "pool_size"),
      ("statement_timeout=-1", "statement_timeout"), ("connect_timeout=0", "connect_timeout"),
      ("sslrootcert=\(ca.path)&sslmode=verify-full", "sslrootcert"),
      ("sslrootcert=", "sslrootcert"),
      ("target_session_attrs=any", "target_session_attrs"),
    ] {
      let message = refusal(options)
      #expect(
        message?.contains("DATABASE_URL option \(named)") == true,
        "\(options): \(message ?? "accepted")"
      )
      #expect(message?.contains("secret") != true)
    }
    // A CA file is read when the URL is parsed: not a certificate, no start.
    try Data("not a certificate\n".utf8).write(to: ca)
    #expect(refusal("sslmode=verify-full&sslrootcert=\(ca.path)")?.contains("sslrootcert") == true)
  }

  @Test("TLS settings come in complete sets of readable files")
  func tlsSettings() throws {
    let pem = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tls-\(UUID().uuidString).pem"
    )
    try Data("-----BEGIN CERTIFICATE-----\n".utf8).write(to: pem)
    defer { try? FileManager.default.removeItem(at: pem) }
    #expect(try ServerTLS(config: ConfigReader(environment: [:])) == nil)
    #expect(try ClientTLS(config: ConfigReader(environment: [:])) == nil)
    let both = try ServerTLS(
      config: ConfigReader(environment: [
        "GRPC_TLS_CERT_FILE": pem.path, "GRPC_TLS_KEY_FILE": pem.path,
      ])
    )
    #expect(both == ServerTLS(certificateFile: pem.path, keyFile: pem.path, clientCAFile: nil))
    #expect(throws: ConfigError.missing(variable: "GRPC_TLS_KEY_FILE")) {
      try ServerTLS(config: ConfigReader(environment: ["GRPC_TLS_CERT_FILE": pem.path]))
    }
    #expect(
      throws: ConfigError.invalid(
        variable: "GRPC_TLS_CERT_FILE",
        value: "/nowhere.pem",
        expected: "a readable PEM file"
      )
    ) {
      try ServerTLS(
        config: ConfigReader(environment: [
          "GRPC_TLS_CERT_FILE": "/nowhere.pem", "GRPC_TLS_KEY_FILE": pem.path,
        ])
      )
    }
    #expect(throws: ConfigError.self) {
      try ServerTLS(config: ConfigReader(environment: ["GRPC_TLS_CLIENT_CA_FILE": pem.path]))
    }
    #expect(throws: ConfigError.missing(variable: "GRPC_CLIENT_KEY_FILE")) {
      try ClientTLS(
        config: ConfigReader(environment: [
          "GRPC_CLIENT_CA_FILE": pem.path, "GRPC_CLIENT_CERT_FILE": pem.path,
        ])
      )
    }
    #expect(throws: ConfigError.self) {
      try ClientTLS(config: ConfigReader(environment: ["GRPC_CLIENT_CERT_FILE": pem.path]))
    }
  }

  @Test("log lines written while serving an RPC carry its request id and method; others none")
  func requestMetadata() {
    #expect(RequestContext.metadataProvider.get().isEmpty)
    let context = RequestContext.serving(
      "guance.console.v1.WorkspaceConsoleService/Login",
      requestID: "r-1"
    )
    let metadata = RequestContext.$current.withValue(context) {
      RequestContext.metadataProvider.get()
    }
    #expect(metadata["request-id"] == .string("r-1"))
    #expect(metadata["rpc"] == .string("guance.console.v1.WorkspaceConsoleService/Login"))
  }
}
