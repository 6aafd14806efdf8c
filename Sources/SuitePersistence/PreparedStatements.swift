public import Logging
public import PostgresNIO
import Synchronization

/// Rows of a statement run through `execute`: PostgreSQL rows, read like `query`'s.
public typealias PreparedRows = AsyncThrowingMapSequence<PostgresRowSequence, PostgresRow>

extension Database {
  /// One statement outside an explicit transaction, prepared once per pooled connection and
  /// then only bound and executed. For statements whose text is fixed at the call site (values
  /// interpolated as binds, `unescaped:` only for constants); text that varies from call to
  /// call goes through `query`, or every variant would stay prepared on every connection.
  @discardableResult
  public func execute(_ query: PostgresQuery) async throws -> PreparedRows {
    try await NamedStatement.with(query) { statement in
      try await client.execute(statement, logger: logger)
    }
  }
}

extension PostgresConnection {
  /// `Database.execute` inside a transaction: the statement prepared once on this connection.
  @discardableResult
  public func execute(_ query: PostgresQuery, logger: Logger) async throws -> PreparedRows {
    try await NamedStatement.with(query) { statement in
      try await execute(statement, logger: logger)
    }
  }
}

/// Parsing and planning cost PostgreSQL more than executing the suite's short statements, so
/// the hot ones are prepared. postgres-nio names a prepared statement after its Swift type and
/// reads the name and text from static properties, while ours are interpolated queries; so one
/// type serves them all, its static name and text bound as a task-local around the single
/// `execute` call that reads them (postgres-nio copies both into the connection's task before
/// its first suspension, and reads the text again only for an error, still inside the call).
private struct NamedStatement: PostgresPreparedStatement {
  struct Text: Sendable {
    var name: String
    var sql: String
  }

  @TaskLocal static var current = Text(name: "", sql: "")
  static var name: String { current.name }
  static var sql: String { current.sql }

  let bindings: PostgresBindings

  func makeBindings() -> PostgresBindings { bindings }
  func decodeRow(_ row: PostgresRow) -> PostgresRow { row }

  /// Statement names, one per distinct text, numbered in order of first use. A connection keeps
  /// what it prepared under these names for its lifetime, so a name must never be reused for
  /// another text: numbering (not hashing) rules out collisions.
  private static let names = Mutex<[String: String]>([:])

  static func with<Result>(
    _ query: PostgresQuery, _ body: (NamedStatement) async throws -> Result
  ) async throws -> Result {
    let name = names.withLock { names in
      if let known = names[query.sql] { return known }
      let fresh = "suite_\(names.count + 1)"
      names[query.sql] = fresh
      return fresh
    }
    return try await $current.withValue(Text(name: name, sql: query.sql)) {
      try await body(NamedStatement(bindings: query.binds))
    }
  }
}
