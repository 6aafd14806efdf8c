import Foundation
import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing

@Suite("Forward-only migrations")
struct MigratorTests {
  static let first = [
    Migration(
      component: "demo",
      version: 1,
      name: "widgets",
      sql: """
        -- a comment before the first statement
        CREATE TABLE widgets (id integer PRIMARY KEY);
        CREATE FUNCTION widget_count() RETURNS bigint AS $$
          SELECT count(*) FROM widgets;
        $$ LANGUAGE sql;
        INSERT INTO widgets VALUES (1);
        """
    )
  ]

  @Test("statements are split at line-ending semicolons, not inside function bodies")
  func splitting() throws {
    let statements = try #require(Self.first.first).statements
    #expect(statements.count == 3)
    #expect(statements[1].contains("SELECT count(*) FROM widgets;"))
  }

  @Test("applying twice, or from several replicas at once, applies each migration once")
  func idempotentAndConcurrent() async throws {
    try await TestDatabase.withFreshDatabase { url in
      try await TestDatabase.withClient(url) { client in
        let migrator = Migrator(client: client, logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
          for _ in 0..<4 { group.addTask { try await migrator.apply(Self.first) } }
          try await group.waitForAll()
        }
        try await migrator.apply(Self.first)
        let rows = try await client.query(
          "SELECT widget_count()::int, (SELECT count(*)::int FROM schema_migrations)"
        )
        for try await (widgets, applied) in rows.decode((Int, Int).self) {
          #expect(widgets == 1)
          #expect(applied == 1)
        }
      }
    }
  }

  @Test(
    "a migration whose connection is lost on the way (a terminated backend) is applied on a new one, once"
  )
  func connectionLostWhileMigrating() async throws {
    try await TestDatabase.withFreshDatabase { url in
      try await TestDatabase.withClient(url) { client in
        // A sequence is not rolled back: the first attempt ends its own session, the next
        // goes through.
        try await client.query("CREATE SEQUENCE migration_attempts")
        let cut = Migration(
          component: "demo",
          version: 2,
          name: "cut",
          sql: """
            CREATE TABLE gadgets (id integer PRIMARY KEY);
            SELECT CASE WHEN nextval('migration_attempts') = 1
              THEN pg_terminate_backend(pg_backend_pid()) END;
            INSERT INTO gadgets VALUES (1);
            """
        )
        try await Migrator(client: client, logger: Logger(label: "test")).apply(Self.first + [cut])
        let rows = try await client.query(
          """
          SELECT (SELECT count(*)::int FROM gadgets), (SELECT count(*)::int FROM schema_migrations),
                 (SELECT last_value::int FROM migration_attempts)
          """
        )
        for try await (gadgets, applied, attempts) in rows.decode((Int, Int, Int).self) {
          #expect(gadgets == 1)
          #expect(applied == 2)
          #expect(attempts == 2)
        }
      }
    }
  }

  @Test("a failing migration leaves nothing behind and is retried next time")
  func failingMigration() async throws {
    try await TestDatabase.withFreshDatabase { url in
      try await TestDatabase.withClient(url) { client in
        let migrator = Migrator(client: client, logger: Logger(label: "test"))
        let broken =
          Self.first + [
            Migration(
              component: "demo",
              version: 2,
              name: "broken",
              sql: "CREATE TABLE gadgets (id integer);\nSELECT no_such_function();"
            )
          ]
        await #expect(throws: (any Error).self) { try await migrator.apply(broken) }
        let rows = try await client.query(
          "SELECT to_regclass('gadgets') IS NULL, (SELECT max(version) FROM schema_migrations)"
        )
        for try await (noGadgets, latest) in rows.decode((Bool, Int).self) {
          #expect(noGadgets)
          #expect(latest == 1)
        }
      }
    }
  }

  @Test("a database newer than the build is refused")
  func newerDatabase() async throws {
    try await TestDatabase.withFreshDatabase { url in
      try await TestDatabase.withClient(url) { client in
        let migrator = Migrator(client: client, logger: Logger(label: "test"))
        try await migrator.apply(
          Self.first + [Migration(component: "demo", version: 2, name: "next", sql: "SELECT 1;")]
        )
        await #expect(throws: MigrationError.self) { try await migrator.apply(Self.first) }
      }
    }
  }
}
