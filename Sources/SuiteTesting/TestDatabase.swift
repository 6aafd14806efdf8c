import Foundation
import Logging
public import PostgresNIO
public import SuitePersistence

/// A throwaway database on the test PostgreSQL (`TEST_DATABASE_URL`, set by `make test`),
/// created for one test and dropped after it.
public enum TestDatabase {
  public enum Failure: Error, CustomStringConvertible {
    case notConfigured

    public var description: String {
      "TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL"
    }
  }

  /// The server's admin database URL.
  public static func serverURL() throws -> DatabaseURL {
    guard let text = ProcessInfo.processInfo.environment["TEST_DATABASE_URL"] else {
      throw Failure.notConfigured
    }
    return try DatabaseURL(text, variable: "TEST_DATABASE_URL")
  }

  /// Runs `body` with the URL of a new, empty database; drops it afterwards.
  public static func withFreshDatabase<Result>(
    _ body: (DatabaseURL) async throws -> Result
  ) async throws -> Result {
    let server = try serverURL()
    let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    _ = try await withClient(server) { admin in
      try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
    }
    do {
      let result = try await body(server.with(database: name))
      try await drop(name, on: server)
      return result
    } catch {
      try? await drop(name, on: server)
      throw error
    }
  }

  /// A fresh database with `migrations` applied, and a running client for it.
  public static func withMigratedDatabase<Result>(
    _ migrations: [Migration],
    _ body: (DatabaseURL, Database) async throws -> Result
  ) async throws -> Result {
    try await withFreshDatabase { url in
      try await withClient(url) { client in
        let logger = Logger(label: "test-db")
        try await Migrator(client: client, logger: logger).apply(migrations)
        return try await body(url, Database(client: client, logger: logger))
      }
    }
  }

  /// A presence id no live process holds: work marked with it was claimed by a process that
  /// has since died.
  public static let deadPresence: Int32 = 424_242

  /// Runs a process presence on `database` for the duration of `body`, once it is held (what
  /// claimed work is marked with; see `Presence`). It lets go when `body` returns.
  public static func withPresence<Result>(
    _ database: Database,
    _ body: (Presence) async throws -> Result
  )
    async throws -> Result
  {
    let presence = Presence(database: database, logger: Logger(label: "test-presence"))
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await presence.run() }
      defer { group.cancelAll() }
      guard await presence.established() else { throw PresenceLost() }
      return try await body(presence)
    }
  }

  /// Runs a `PostgresClient` for the duration of `body`.
  public static func withClient<Result>(
    _ url: DatabaseURL,
    _ body: (PostgresClient) async throws -> Result
  ) async throws -> Result {
    let client = PostgresClient(configuration: url.clientConfiguration)
    return try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { await client.run() }
      defer { group.cancelAll() }
      return try await body(client)
    }
  }

  private static func drop(_ name: String, on server: DatabaseURL) async throws {
    _ = try await withClient(server) { admin in
      try await admin.query(
        PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
      )
    }
  }
}
