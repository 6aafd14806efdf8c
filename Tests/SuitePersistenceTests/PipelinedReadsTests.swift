import Foundation
import Logging
import PostgresNIO
import PostgresPipeline
import SuiteErrors
import SuitePersistence
import SuiteTesting
import Testing

@Suite("Reads pipelined through libpq")
struct PipelinedReadsTests {
  static let schema = [
    Migration(
      component: "demo",
      version: 1,
      name: "things",
      sql:
        "CREATE TABLE things (id uuid PRIMARY KEY, name text NOT NULL, at timestamptz, n integer);"
    )
  ]
  static let byID = PipelinedReads.Statement(
    name: "thing_by_id",
    sql: "SELECT id, name, at FROM things WHERE id = $1",
    parameters: 1
  )
  static let byN = PipelinedReads.Statement(
    name: "things_from",
    sql: "SELECT id, name, at FROM things WHERE n >= $1::integer ORDER BY n LIMIT $2::integer",
    parameters: 2
  )

  /// `count` things, stored and read back through postgres-nio: the values the reads must give.
  static func things(_ count: Int, in database: Database) async throws -> [(UUID, String, Date)] {
    for n in 0..<count {
      let at = Date(timeIntervalSince1970: Double.random(in: -2_000_000_000...4_000_000_000))
      try await database.execute(
        "INSERT INTO things (id, name, at, n) VALUES (\(UUID()), \("thing \(n) ünïcødé 中文 'quoted'"), \(at), \(n))"
      )
    }
    var things: [(UUID, String, Date)] = []
    let rows = try await database.execute("SELECT id, name, at FROM things ORDER BY n")
    for try await thing in rows.decode((UUID, String, Date).self) { things.append(thing) }
    return things
  }

  @discardableResult
  static func withReads<Result>(
    _ url: DatabaseURL,
    connections: Int = 2,
    _ body: (PipelinedReads) async throws -> Result
  ) async throws -> Result {
    let reads = PipelinedReads(
      url: url,
      statements: [byID, byN],
      connections: connections,
      logger: Logger(label: "test")
    )
    defer { reads.close() }
    return try await body(reads)
  }

  @Test(
    "many reads at once each get their own row, decoded as postgres-nio binds it; a missing key gets none"
  )
  func concurrentReads() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, database in
      let things = try await Self.things(200, in: database)
      try await Self.withReads(url) { reads in
        try await withThrowingTaskGroup(of: Void.self) { group in
          for round in 0..<5 {
            for (id, name, at) in things {
              group.addTask {
                let rows = try await reads.rows(
                  Self.byID,
                  [round % 2 == 0 ? id.uuidString : id.uuidString.lowercased()]
                )
                #expect(rows.count == 1)
                let row = try #require(rows.first)
                #expect(try row.uuid(0) == id)
                #expect(try row.text(1) == name)
                #expect(try row.date(2) == at)
              }
            }
          }
          for _ in 0..<50 {
            group.addTask {
              let rows = try await reads.rows(Self.byID, [UUID().uuidString])
              #expect(rows.isEmpty)
            }
          }
          try await group.waitForAll()
        }
        let page = try await reads.rows(Self.byN, ["10", "3"])
        #expect(try page.map { try $0.uuid(0) } == things[10..<13].map(\.0))
      }
    }
  }

  @Test(
    "a statement PostgreSQL refuses fails that read alone; the reads pipelined with it are answered"
  )
  func refusedStatement() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, database in
      let things = try await Self.things(50, in: database)
      // One connection: the bad read shares its pipeline with the good ones.
      try await Self.withReads(url, connections: 1) { reads in
        try await withThrowingTaskGroup(of: Void.self) { group in
          for (index, thing) in things.enumerated() {
            group.addTask {
              if index % 10 == 5 {
                await #expect(throws: PipelinedReads.StatementFailed.self) {
                  try await reads.rows(Self.byID, ["not a uuid"])
                }
              } else {
                let rows = try await reads.rows(Self.byID, [thing.0.uuidString])
                #expect(try rows.first?.uuid(0) == thing.0)
              }
            }
          }
          try await group.waitForAll()
        }
        do {
          _ = try await reads.rows(Self.byID, ["not a uuid"])
          Issue.record("a malformed uuid was read")
        } catch let failure as PipelinedReads.StatementFailed {
          #expect(failure.sqlState == "22P02")
        }
      }
    }
  }

  @Test(
    "a connection PostgreSQL ends fails only what it carried (UNAVAILABLE); the next reads connect again"
  )
  func lostConnection() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, database in
      let things = try await Self.things(20, in: database)
      try await Self.withReads(url, connections: 1) { reads in
        #expect(try await reads.rows(Self.byID, [things[0].0.uuidString]).count == 1)
        let ended = try await database.execute(
          """
          SELECT count(*)::int FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'pipelined-reads' AND datname = current_database()) t
          """
        )
        for try await count in ended.decode(Int.self) { #expect(count == 1) }
        // The first read after may still meet the dead connection; the one after that cannot.
        var answered = 0
        for thing in things {
          do {
            answered += try await reads.rows(Self.byID, [thing.0.uuidString]).count
          } catch let error as ConnectionClosed {
            #expect(error.serviceError.kind == .unavailable)
          }
        }
        #expect(answered >= things.count - 1)
        #expect(try await reads.rows(Self.byID, [things[1].0.uuidString]).count == 1)
      }
    }
  }

  @Test(
    "without a database to reach, reads fail at once with UNAVAILABLE, and succeed once it can be reached"
  )
  func unreachable() async throws {
    var nowhere = try TestDatabase.serverURL()
    nowhere.port = 1
    try await Self.withReads(nowhere, connections: 1) { reads in
      await #expect(throws: ConnectionClosed.self) {
        try await reads.rows(Self.byID, [UUID().uuidString])
      }
    }
    // Statements over tables that do not exist yet (a service before its migrations): refused
    // as a connection that cannot serve, and prepared once they exist.
    try await TestDatabase.withMigratedDatabase([]) { url, database in
      try await Self.withReads(url, connections: 1) { reads in
        await #expect(throws: ConnectionClosed.self) {
          try await reads.rows(Self.byID, [UUID().uuidString])
        }
        try await database.execute(FixedQuery(fixed: Self.schema[0].sql))
        #expect(try await reads.rows(Self.byID, [UUID().uuidString]).isEmpty)
      }
    }
  }

  @Test("the connection string quotes every value and carries the URL's options")
  func conninfo() throws {
    let url = try DatabaseURL(
      "postgres://o'neil:p%5Cw'd@db.example:6543/guance?sslmode=verify-full&connect_timeout=7&statement_timeout=2500"
    )
    let text = PipelinedReads.conninfo(url)
    #expect(text.contains("host='db.example'"))
    #expect(text.contains("port='6543'"))
    #expect(text.contains(#"user='o\'neil'"#))
    #expect(text.contains(#"password='p\\w\'d'"#))
    #expect(text.contains("dbname='guance'"))
    #expect(text.contains("sslmode='verify-full'"))
    #expect(text.contains("sslrootcert='/etc/ssl/certs/ca-certificates.crt'"))
    #expect(text.contains("connect_timeout='7'"))
    #expect(text.contains("options='-c statement_timeout=2500'"))
  }
}
