public import Logging
public import PostgresNIO
import SuiteKit
import Synchronization

/// A statement of fixed text with its values, written by interpolation as postgres-nio's
/// `PostgresQuery` is (`"… WHERE id = \(id)"`, `\(unescaped: constant)` for fixed SQL). Unlike
/// `PostgresQuery` it keeps each value's PostgreSQL type, nulls included: a statement is
/// prepared with the types of the call that first runs it on a connection, and an untyped
/// NULL there would leave PostgreSQL to guess a type that later values may not match.
public struct FixedQuery: ExpressibleByStringInterpolation, Sendable {
  var sql: String
  var bindings: PostgresBindings
  var types: [PostgresDataType]

  public init(stringLiteral value: String) {
    self.init(sql: value, bindings: PostgresBindings(), types: [])
  }

  public init(stringInterpolation: StringInterpolation) {
    self.init(
      sql: stringInterpolation.sql,
      bindings: stringInterpolation.bindings,
      types: stringInterpolation.types
    )
  }

  /// Fixed text without values, built in code from constants (never from input).
  public init(fixed sql: String) {
    self.init(sql: sql, bindings: PostgresBindings(), types: [])
  }

  init(sql: String, bindings: PostgresBindings, types: [PostgresDataType]) {
    self.sql = sql
    self.bindings = bindings
    self.types = types
  }

  /// `self` with `text` spliced around its SQL and `value` bound after its own values: for
  /// helpers that complete a caller's fragment (`wrapping` gets the fragment's SQL and the
  /// new value's placeholder).
  public func wrapped<Value: PostgresEncodable>(
    adding value: Value,
    _ wrapping: (_ fragment: String, _ placeholder: String) -> String
  ) throws -> FixedQuery {
    var query = self
    try query.bindings.append(value)
    query.types.append(Value.psqlType)
    query.sql = wrapping(sql, "$\(query.types.count)")
    return query
  }

  public struct StringInterpolation: StringInterpolationProtocol {
    var sql = ""
    var bindings = PostgresBindings()
    var types: [PostgresDataType] = []

    public init(literalCapacity: Int, interpolationCount: Int) {
      sql.reserveCapacity(literalCapacity + 3 * interpolationCount)
    }

    public mutating func appendLiteral(_ literal: String) { sql += literal }

    public mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(_ value: Value) {
      bindings.append(value)
      placeholder(Value.psqlType)
    }

    public mutating func appendInterpolation<Value: PostgresNonThrowingEncodable>(_ value: Value?) {
      if let value { appendInterpolation(value) } else { appendNull(of: Value.self) }
    }

    /// Values whose encoding can fail (JSON and the like).
    public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) throws {
      try bindings.append(value)
      placeholder(Value.psqlType)
    }

    public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) throws {
      if let value { try appendInterpolation(value) } else { appendNull(of: Value.self) }
    }

    /// A NULL of the column's type, not an untyped one.
    private mutating func appendNull<Value: PostgresEncodable>(of: Value.Type) {
      bindings.append(PostgresData(type: Value.psqlType, value: nil))
      placeholder(Value.psqlType)
    }

    /// Fixed SQL (column lists and the like), never input.
    public mutating func appendInterpolation(unescaped text: String) { sql += text }

    private mutating func placeholder(_ type: PostgresDataType) {
      types.append(type)
      sql += "$\(types.count)"
    }
  }
}

extension Database {
  /// One statement outside an explicit transaction, prepared once per pooled connection and
  /// then only bound and executed. For statements whose text is fixed at the call site; text
  /// that varies from call to call goes through `query`, or every variant would stay
  /// prepared on every connection.
  @discardableResult
  public func execute(_ query: FixedQuery) async throws -> Rows {
    try await alone(query.sql) { connection in try await connection.prepared(query, logger: logger)
    }
  }
}

extension PostgresConnection {
  /// `Database.execute` inside a transaction: the statement prepared once on this connection.
  @discardableResult
  public func execute(_ query: FixedQuery, logger: Logger) async throws -> Rows {
    try await Traces.statement(query.sql) { try await prepared(query, logger: logger) }
  }

  fileprivate func prepared(_ query: FixedQuery, logger: Logger) async throws -> Rows {
    try await NamedStatement.with(query) { statement in
      try await whileOpen { try await Rows(reading: execute(statement, logger: logger)) }
    }
  }
}

/// Parsing and planning cost PostgreSQL more than executing the suite's short statements, so
/// they are prepared. postgres-nio names a prepared statement after its Swift type and reads
/// its name, text and parameter types from static properties, while ours are interpolated
/// queries; so one type serves them all, its statics bound as a task-local around the single
/// `execute` call that reads them (postgres-nio copies them into the connection's task before
/// its first suspension, and reads the text again only for an error, still inside the call).
private struct NamedStatement: PostgresPreparedStatement {
  struct Text: Sendable {
    var name = ""
    var sql = ""
    var types: [PostgresDataType] = []
  }

  @TaskLocal static var current = Text()
  static var name: String { current.name }
  static var sql: String { current.sql }
  static var bindingDataTypes: [PostgresDataType] { current.types }

  let bindings: PostgresBindings

  func makeBindings() -> PostgresBindings { bindings }
  func decodeRow(_ row: PostgresRow) -> PostgresRow { row }

  struct Key: Hashable {
    var sql: String
    var types: [PostgresDataType]
  }

  /// Statement names, one per distinct text and parameter types, numbered in order of first
  /// use. A connection keeps what it prepared under these names for its lifetime, so a name
  /// must never be reused for anything else: numbering (not hashing) rules out collisions.
  private static let names = Mutex<[Key: String]>([:])

  static func with<Result>(
    _ query: FixedQuery,
    _ body: (NamedStatement) async throws -> Result
  ) async throws -> Result {
    let key = Key(sql: query.sql, types: query.types)
    let name = names.withLock { names in
      if let known = names[key] { return known }
      let fresh = "suite_\(names.count + 1)"
      names[key] = fresh
      return fresh
    }
    return try await $current.withValue(Text(name: name, sql: query.sql, types: query.types)) {
      try await body(NamedStatement(bindings: query.bindings))
    }
  }
}
