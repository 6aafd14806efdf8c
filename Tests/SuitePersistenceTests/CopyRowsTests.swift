import Foundation
import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing

@Suite("Rows for COPY")
struct CopyRowsTests {
  static let schema = [
    Migration(
      component: "demo",
      version: 1,
      name: "copied",
      sql: "CREATE TABLE copied (n integer PRIMARY KEY, note text, id uuid, at timestamptz);"
    )
  ]

  @Test(
    "text, uuids and times copied in PostgreSQL's text format are stored as the same values bound in binary"
  )
  func sameAsBound() async throws {
    var times = [
      Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 946_684_800),
      Date(timeIntervalSince1970: 951_782_400.5), Date(timeIntervalSince1970: -86400.25),
      Date(timeIntervalSince1970: 4_102_444_799.999999), Date(),
    ]
    var random = SystemRandomNumberGenerator()
    for _ in 0..<300 {
      times.append(
        Date(
          timeIntervalSince1970: Double.random(in: -2_000_000_000...4_000_000_000, using: &random)
        )
      )
    }
    let notes = [
      "plain", #"back\slash"#, "tab\there", "new\nline", "cr\rhere", "\\.", "ünïcødé 中文", "",
    ]
    let rows = times.indices.map { index in
      (index, notes[index % notes.count], UUID(), times[index])
    }
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      let logger = Logger(label: "test")
      var copy = CopyRows()
      for (n, note, id, at) in rows {
        copy.append(String(n))
        copy.append(note)
        copy.append(id)
        copy.append(at)
        copy.endRow()
      }
      let buffer = copy.buffer
      try await database.transaction { connection in
        try await connection.copyFrom(
          table: "copied",
          columns: ["n", "note", "id", "at"],
          logger: logger
        ) {
          try await $0.write(buffer)
        }
      }
      var matched = 0
      for (n, note, id, at) in rows {
        let same = try await database.execute(
          "SELECT note = \(note) AND id = \(id) AND at = \(at) FROM copied WHERE n = \(n)"
        )
        for try await equal in same.decode(Bool.self) {
          #expect(equal, "row \(n): \(note) \(at.timeIntervalSince1970)")
          if equal { matched += 1 }
        }
      }
      #expect(matched == rows.count)
    }
  }
}
