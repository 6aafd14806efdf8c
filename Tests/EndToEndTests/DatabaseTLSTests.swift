import Foundation
import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Synchronization
import Testing

/// PostgreSQL over TLS, as a managed server requires it: `sslmode` and `sslrootcert` in
/// `DATABASE_URL`, against a private cluster started with a certificate from `scripts/certs.sh`
/// (`scripts/pg.sh` with `PG_TLS_DIR`). The cluster takes plain connections too, so each mode
/// shows what it asked for in `pg_stat_ssl`.
@Suite("PostgreSQL over TLS", .startsServices)
struct DatabaseTLSTests {
  @Test(
    "verify-full connects to a server its CA issued, by name or address; another CA's server is refused, and the log says why; a service runs on it"
  )
  func verifyFull() async throws {
    let (work, ours, foreign) = try await TLSTests.twoCertificateAuthorities("Database test CA")
    defer { try? FileManager.default.removeItem(at: work) }
    let ourCA = ours.appendingPathComponent("ca.pem").path
    let foreignCA = foreign.appendingPathComponent("ca.pem").path

    try await PrivateCluster.run(in: work.appendingPathComponent("pg"), tls: ours) { port in
      func url(_ host: String, _ options: String) throws -> DatabaseURL {
        try DatabaseURL("postgres://postgres@\(host):\(port)/postgres?\(options)")
      }
      let byName = try url("localhost", "sslmode=verify-full&sslrootcert=\(ourCA)")
      #expect(try await Self.protocolInUse(byName)?.hasPrefix("TLS") == true)
      // The certificate names 127.0.0.1 too (scripts/certs.sh), and is checked against it.
      let byAddress = try url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(ourCA)")
      #expect(try await Self.protocolInUse(byAddress)?.hasPrefix("TLS") == true)
      // require: encrypted, the certificate not checked without a CA file (libpq's meaning).
      #expect(
        try await Self.protocolInUse(try url("localhost", "sslmode=require"))?.hasPrefix("TLS")
          == true
      )
      let plain = try await Self.protocolInUse(try url("127.0.0.1", "sslmode=disable"))
      #expect(plain == nil)

      // Another CA: no connection is made, and what the service logs names the reason.
      let refusal = try await Self.connectionFailure(
        try url("localhost", "sslmode=verify-full&sslrootcert=\(foreignCA)")
      )
      let reason = refusal.lowercased().replacingOccurrences(of: "_", with: " ")
      #expect(reason.contains("certificate verify failed"), "\(refusal)")

      // A service given the URL migrates its database and serves over it.
      let database = "tls_console"
      try await TestDatabase.withClient(byName) { admin in
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"))
      }
      let console = try await ServiceProcess(
        "workspace-console",
        environment: [
          "DATABASE_URL": byName.with(database: database).text,
          "INTERNAL_CREDENTIAL": "database-tls-test-credential",
        ],
        workDirectory: work
      )
      let sessions = try await TestDatabase.withClient(byName) { admin in
        try await admin.query(
          "SELECT count(*)::int FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = \(database)"
        ).collect().first?.decode(Int.self) ?? 0
      }
      #expect(sessions > 0, "the console's connections are encrypted")
      #expect(await console.stop() == 0)
    }
  }

  /// The TLS version of a fresh connection made from `url`, or nil when it is not encrypted.
  static func protocolInUse(_ url: DatabaseURL) async throws -> String? {
    try await TestDatabase.withClient(url) { client in
      try await client.query(
        "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl"
      ).collect().first?.decode(String.self)
    }
  }

  /// What the client logs when it cannot connect with `url` (as a service's log shows it),
  /// once it has tried.
  static func connectionFailure(_ url: DatabaseURL) async throws -> String {
    let failures = RecordedFailures()
    let client = PostgresClient(
      configuration: url.clientConfiguration,
      backgroundLogger: Logger(label: "database-tls-test") { _ in failures }
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      group.addTask { _ = try? await client.query("SELECT 1") }
      defer { group.cancelAll() }
      let deadline = ContinuousClock.now + .testPatience
      while ContinuousClock.now < deadline {
        if let first = failures.first { return first }
        try await Task.sleep(for: .milliseconds(50))
      }
      Issue.record("the client never reported a failed connection")
      return ""
    }
  }
}

/// A private PostgreSQL cluster with TLS on a free port for one test, removed after it.
enum PrivateCluster {
  static func run<Result>(
    in directory: URL,
    tls: URL,
    _ body: (Int) async throws -> Result
  ) async throws -> Result {
    let script = ProjectPython.packageFile("scripts/pg.sh")
    var environment = ProcessInfo.processInfo.environment
    environment["PG_TLS_DIR"] = tls.path
    environment["PG_FSYNC"] = "off"
    // A port free a moment ago may be taken before PostgreSQL binds it: try a few.
    var port = 0
    var lastOutput = ""
    for _ in 1...3 {
      port = try await Command.freePort()
      let (status, output) = try await Command.run(
        script,
        ["start", directory.path, String(port)],
        environment: environment,
        mergingErrors: true
      )
      if status == 0 { break }
      lastOutput = output
      port = 0
    }
    guard port != 0 else { throw ClusterDidNotStart(output: lastOutput) }
    do {
      let result = try await body(port)
      _ = try await Command.run(script, ["destroy", directory.path], environment: environment)
      return result
    } catch {
      _ = try? await Command.run(script, ["destroy", directory.path], environment: environment)
      throw error
    }
  }

  struct ClusterDidNotStart: Error, CustomStringConvertible {
    let output: String
    var description: String { "the private PostgreSQL did not start:\n\(output)" }
  }

}

/// Keeps the `error` of each "Connection creation failed" that PostgresNIO's pool logs.
private final class RecordedFailures: LogHandler, @unchecked Sendable {
  private let recorded = Mutex<[String]>([])
  var metadata: Logger.Metadata = [:]
  var logLevel: Logger.Level = .info

  var first: String? { recorded.withLock { $0.first } }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    guard event.message.description.contains("Connection creation failed") else { return }
    let error =
      event.metadata?.first { $0.key.contains("error") }?.value.description
      ?? "\(event.metadata ?? [:])"
    recorded.withLock { $0.append(error) }
  }
}
