import Foundation
import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing

@Suite("Prepared statements")
struct PreparedStatementTests {
  static let schema = [
    Migration(
      component: "demo",
      version: 1,
      name: "purchases",
      sql: "CREATE TABLE purchases (id integer PRIMARY KEY, quantity integer, note text);"
    )
  ]

  @Test(
    "a statement first run with NULLs on a connection still takes values of those types afterwards"
  )
  func nullFirst() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      // One connection, so the second and third runs reuse what the first prepared.
      try await database.transaction { connection in
        let logger = Logger(label: "test")
        for (id, quantity, note) in [(1, nil, nil), (2, 5, "five"), (3, nil, "none")]
          as [(Int, Int?, String?)]
        {
          try await connection.execute(
            "INSERT INTO purchases (id, quantity, note) VALUES (\(id), \(quantity), \(note))",
            logger: logger
          )
        }
      }
      var stored: [String] = []
      let rows = try await database.execute("SELECT id, quantity, note FROM purchases ORDER BY id")
      for try await (id, quantity, note) in rows.decode((Int, Int?, String?).self) {
        stored.append("\(id):\(quantity.map(String.init) ?? "-"):\(note ?? "-")")
      }
      #expect(stored == ["1:-:-", "2:5:five", "3:-:none"])
    }
  }

  @Test("one text with values of other types is a different statement, not a mismatch")
  func sameTextOtherTypes() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      try await database.transaction { connection in
        let logger = Logger(label: "test")
        try await connection.execute(
          "INSERT INTO purchases (id, note) VALUES (\(1), \("text")::text)",
          logger: logger
        )
        // The same SQL text with an integer: PostgreSQL must be told bigint, not text.
        try await connection.execute(
          "INSERT INTO purchases (id, note) VALUES (\(2), \(42)::text)",
          logger: logger
        )
      }
      let rows = try await database.execute("SELECT note FROM purchases ORDER BY id")
      var notes: [String] = []
      for try await note in rows.decode(String.self) { notes.append(note) }
      #expect(notes == ["text", "42"])
    }
  }
}
