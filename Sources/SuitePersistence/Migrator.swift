public import Foundation
public import Logging
public import PostgresNIO

/// One forward-only schema change: a plain SQL file named `NNNN_description.sql`.
public struct Migration: Sendable, Equatable {
  /// Whose schema this is ("workspace_console", "mail_outbox"): each component numbers its
  /// own migrations.
  public var component: String
  public var version: Int
  public var name: String
  public var sql: String

  public init(component: String, version: Int, name: String, sql: String) {
    self.component = component
    self.version = version
    self.name = name
    self.sql = sql
  }

  /// The file's statements, split at semicolons that end a line outside `$$` bodies: the
  /// extended query protocol takes one statement at a time.
  public var statements: [String] {
    var statements: [String] = []
    var current = ""
    var insideDollarQuote = false
    for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
      let code = line.trimmingCharacters(in: .whitespaces)
      if code.hasPrefix("--") && current.isEmpty { continue }
      current += line + "\n"
      if line.components(separatedBy: "$$").count % 2 == 0 { insideDollarQuote.toggle() }
      if !insideDollarQuote && code.hasSuffix(";") {
        statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
        current = ""
      }
    }
    let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
    if !rest.isEmpty { statements.append(rest) }
    return statements
  }

  /// Loads the migrations a module ships as its `Migrations` resource folder.
  public static func load(component: String, bundle: Bundle) throws -> [Migration] {
    guard let directory = bundle.url(forResource: "Migrations", withExtension: nil) else {
      throw MigrationError.missingDirectory(component: component)
    }
    return try load(component: component, from: directory)
  }

  /// Loads every `NNNN_name.sql` in `directory`, in version order.
  public static func load(component: String, from directory: URL) throws -> [Migration] {
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix(".sql") }
    let migrations = try files.map { file in
      let stem = file.dropLast(4)
      guard let separator = stem.firstIndex(of: "_"), let version = Int(stem[..<separator]) else {
        throw MigrationError.badFileName(file)
      }
      let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
      return Migration(
        component: component,
        version: version,
        name: String(stem[stem.index(after: separator)...]),
        sql: sql
      )
    }.sorted { $0.version < $1.version }
    for (previous, next) in zip(migrations, migrations.dropFirst())
    where previous.version == next.version {
      throw MigrationError.duplicateVersion(component: component, version: next.version)
    }
    return migrations
  }
}

public enum MigrationError: Error, CustomStringConvertible {
  case badFileName(String)
  case missingDirectory(component: String)
  case duplicateVersion(component: String, version: Int)
  case unknownAppliedVersion(component: String, version: Int)

  public var description: String {
    switch self {
    case .badFileName(let file): "migration file \(file) is not named NNNN_description.sql"
    case .missingDirectory(let component):
      "the Migrations folder of \(component) is missing from its bundle"
    case .duplicateVersion(let component, let version):
      "two migrations of \(component) share version \(version)"
    case .unknownAppliedVersion(let component, let version):
      "the database has migration \(component) \(version), which this build does not know: "
        + "is an older build running against a newer schema?"
    }
  }
}

/// Applies migrations at start-up, each in its own transaction, under an advisory lock so
/// replicas starting together apply each one exactly once.
public struct Migrator: Sendable {
  private let client: PostgresClient
  private let logger: Logger

  public init(client: PostgresClient, logger: Logger) {
    self.client = client
    self.logger = logger
  }

  /// Arbitrary but fixed: every replica of every service takes the same lock key in its own
  /// database.
  static let lockKey: Int64 = 0x6775_616E_6365

  /// Applies what is missing, again from the start when the database connection is lost on
  /// the way (a terminated backend, a restart): each migration commits with its record, so a
  /// new attempt skips what landed. A start-up that gave up on the first lost connection
  /// stopped the process, and a replica restarted while sessions were being ended never came
  /// up (ReplicaChaosTests).
  public func apply(_ migrations: [Migration]) async throws {
    var attempt = 1
    while true {
      do {
        return try await applyOnce(migrations)
      } catch  where isConnectionLoss(error) && attempt < Self.attempts {
        logger.warning(
          "lost the database connection while migrating; trying again",
          metadata: ["attempt": "\(attempt)", "error": "\(error)"]
        )
        attempt += 1
        try await Task.sleep(for: .milliseconds(100 * attempt))
      }
    }
  }

  static let attempts = 5

  private func applyOnce(_ migrations: [Migration]) async throws {
    try await client.withConnection { connection in
      try await connection.send(
        "SELECT pg_advisory_lock(\(Self.lockKey))",
        logger: logger
      )
      do {
        try await applyLocked(migrations, on: connection)
      } catch {
        _ = try? await connection.send(
          "SELECT pg_advisory_unlock(\(Self.lockKey))",
          logger: logger
        )
        throw error
      }
      try await connection.send("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
    }
  }

  private func applyLocked(
    _ migrations: [Migration],
    on connection: PostgresConnection
  )
    async throws
  {
    try await connection.send(
      """
      CREATE TABLE IF NOT EXISTS schema_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version)
      )
      """,
      logger: logger
    )
    var applied: Set<String> = []
    let rows = try await connection.send(
      "SELECT component, version FROM schema_migrations",
      logger: logger
    )
    for try await (component, version) in rows.decode((String, Int).self) {
      applied.insert("\(component)/\(version)")
    }
    let known = Set(migrations.map { "\($0.component)/\($0.version)" })
    let components = Set(migrations.map(\.component))
    for key in applied.subtracting(known) {
      let parts = key.split(separator: "/")
      if parts.count == 2, components.contains(String(parts[0])), let version = Int(parts[1]) {
        throw MigrationError.unknownAppliedVersion(component: String(parts[0]), version: version)
      }
    }
    for migration in migrations
    where !applied.contains("\(migration.component)/\(migration.version)") {
      logger.notice(
        "applying migration",
        metadata: [
          "component": "\(migration.component)", "version": "\(migration.version)",
          "name": "\(migration.name)",
        ]
      )
      try await connection.send("BEGIN", logger: logger)
      do {
        for statement in migration.statements {
          try await connection.send(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.send(
          """
          INSERT INTO schema_migrations (component, version, name)
          VALUES (\(migration.component), \(migration.version), \(migration.name))
          """,
          logger: logger
        )
        try await connection.send("COMMIT", logger: logger)
      } catch {
        _ = try? await connection.send("ROLLBACK", logger: logger)
        throw error
      }
    }
  }
}
