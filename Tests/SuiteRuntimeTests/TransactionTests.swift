import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing

@Suite("Transactions")
struct TransactionTests {
  static let schema = [
    Migration(
      component: "demo", version: 1, name: "counter",
      sql: "CREATE TABLE counter (id integer PRIMARY KEY, n integer NOT NULL);\nINSERT INTO counter VALUES (1, 0);")
  ]

  @Test("serialization failures are retried until every increment lands once")
  func retriesSerializationFailures() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      let retrying = Database(client: database.client, logger: Logger(label: "test"), maxAttempts: 50)
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<8 {
          group.addTask {
            try await retrying.transaction(isolation: .serializable) { connection in
              // Read, then write what was read: concurrent runs conflict (SQLSTATE 40001).
              let rows = try await connection.query("SELECT n FROM counter WHERE id = 1", logger: Logger(label: "t"))
              var current = 0
              for try await n in rows.decode(Int.self) { current = n }
              try await Task.sleep(for: .milliseconds(5))
              try await connection.query("UPDATE counter SET n = \(current + 1) WHERE id = 1", logger: Logger(label: "t"))
            }
          }
        }
        try await group.waitForAll()
      }
      let rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 8) }
    }
  }

  @Test("a throwing body rolls everything back")
  func rollsBack() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      struct Abort: Error {}
      await #expect(throws: Abort.self) {
        try await database.transaction { connection in
          try await connection.query("UPDATE counter SET n = 99 WHERE id = 1", logger: Logger(label: "t"))
          throw Abort()
        }
      }
      let rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 0) }
    }
  }
}
