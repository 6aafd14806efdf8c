public import Logging
import Metrics
public import PostgresNIO
public import SuiteErrors
import SuiteKit

/// The service's PostgreSQL: a pooled client plus transactions that retry the failures
/// PostgreSQL asks applications to retry (serialization failure 40001, deadlock 40P01).
public struct Database: Sendable {
  public let client: PostgresClient
  let logger: Logger
  private let maxAttempts: Int

  /// - Parameter poolSize: the pool's most connections (`DatabaseURL.poolSize`), reported as
  ///   `postgres_pool_connections_max` beside `postgres_operations_in_flight`.
  public init(client: PostgresClient, poolSize: Int? = nil, logger: Logger, maxAttempts: Int = 5) {
    self.client = client
    self.logger = logger
    self.maxAttempts = maxAttempts
    if let poolSize { Gauge(label: "postgres_pool_connections_max").record(poolSize) }
  }

  /// Statements and transactions holding or waiting for a pooled connection: against the
  /// pool's size, how close the service is to waiting for connections.
  private static let inFlight = Meter(label: "postgres_operations_in_flight")

  /// `body`, counted in flight and, with tracing on, a span named after `statement`.
  package static func counted<Result>(
    _ statement: @autoclosure () -> String,
    _ body: () async throws -> Result
  ) async throws -> Result {
    inFlight.increment()
    defer { inFlight.decrement() }
    return try await Traces.statement(statement(), body)
  }

  public enum Isolation: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
  }

  /// Runs `body` in one transaction, committing when it returns and rolling back when it
  /// throws; retried from the start on 40001/40P01, so `body` must only touch the database.
  public func transaction<Result: Sendable>(
    isolation: Isolation = .readCommitted,
    _ body: @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    var attempt = 1
    while true {
      do {
        return try await Self.counted("BEGIN ISOLATION LEVEL \(isolation.rawValue) … COMMIT") {
          try await withConnectionOnItsLoop { connection in
            try await Self.once(connection, isolation: isolation, logger: logger, body)
          }
        }
      } catch let error as PSQLError where error.isRetryableConflict && attempt < maxAttempts {
        logger.debug(
          "retrying transaction",
          metadata: ["sqlstate": "\(error.sqlState ?? "")", "attempt": "\(attempt)"]
        )
        attempt += 1
        // Jittered backoff, capped, so the competing transactions stop meeting.
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 6)))))
      }
    }
  }

  private static func once<Result: Sendable>(
    _ connection: PostgresConnection,
    isolation: Isolation,
    logger: Logger,
    _ body: @Sendable (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    try await connection.execute(
      FixedQuery(fixed: "BEGIN ISOLATION LEVEL \(isolation.rawValue)"),
      logger: logger
    )
    let result: Result
    do {
      result = try await body(connection)
    } catch {
      await rollBack(connection, logger: logger)
      throw error
    }
    // The caller has given up once its deadline has passed: what it asked for must then not
    // happen behind its back (it may retry, and find a write it was told had failed).
    if let passed = RequestContext.current.deadlinePassedError() {
      await rollBack(connection, logger: logger)
      throw passed
    }
    try await connection.execute("COMMIT", logger: logger)
    return result
  }

  /// A failed rollback leaves the connection broken; the pool then closes it. None is sent on a
  /// connection already closed (a terminated backend, say): it would never be answered.
  private static func rollBack(_ connection: PostgresConnection, logger: Logger) async {
    _ = try? await connection.send("ROLLBACK", logger: logger)
  }

  /// Runs `body` unless another process working on this database is already running work
  /// under the same `lock`, and answers nil then: background work that one replica at a time
  /// must do (a pass over shared state). The lock is PostgreSQL's, held by the connection kept
  /// for `body`: a process that dies lets go with its connection, so another replica's next
  /// turn takes the work over.
  public func exclusively<Result: Sendable>(
    _ lock: Int64,
    _ body: () async throws -> Result
  ) async throws -> Result? {
    try await Self.counted("SELECT pg_try_advisory_lock(\(lock))") {
      try await holdingLock(lock, body)
    }
  }

  private func holdingLock<Result: Sendable>(
    _ lock: Int64,
    _ body: () async throws -> Result
  ) async throws -> Result? {
    try await client.withConnection { connection in
      var taken = false
      for try await held in try await connection.send(
        "SELECT pg_try_advisory_lock(\(lock))",
        logger: logger
      ).decode(Bool.self) {
        taken = held
      }
      guard taken else { return nil }
      let result: Result
      do {
        result = try await body()
      } catch {
        await Self.unlock(lock, on: connection, logger: logger)
        throw error
      }
      await Self.unlock(lock, on: connection, logger: logger)
      return result
    }
  }

  /// A connection going back to the pool must not keep a lock; a closed one has none left.
  private static func unlock(_ lock: Int64, on connection: PostgresConnection, logger: Logger) async
  {
    _ = try? await connection.send("SELECT pg_advisory_unlock(\(lock))", logger: logger)
  }

  /// One statement outside an explicit transaction.
  @discardableResult
  public func query(_ query: PostgresQuery) async throws -> Rows {
    try await alone(query.sql) { connection in try await connection.send(query, logger: logger) }
  }

  /// One statement outside a transaction (`query`, `execute`): not sent once the caller's
  /// deadline is (nearly) past, counted, on a pooled connection.
  func alone(
    _ sql: String,
    _ statement: (PostgresConnection) async throws -> Rows
  ) async throws -> Rows {
    if let passed = RequestContext.current.deadlinePassedError() { throw passed }
    return try await Self.counted(sql) { try await withConnectionOnItsLoop(statement) }
  }
}

extension PSQLError {
  /// The SQLSTATE the server sent, if the error came from the server.
  public var sqlState: String? { serverInfo?[.sqlState] }

  /// The constraint the server named, for mapping unique violations to fields.
  public var constraintName: String? { serverInfo?[.constraintName] }

  public var isUniqueViolation: Bool { sqlState == "23505" }

  var isRetryableConflict: Bool { sqlState == "40001" || sqlState == "40P01" }

  /// The connection was lost or could not be made: PostgreSQL stopped, restarted or
  /// terminated the backend (57P01-57P03), a connection exception (class 08), too many
  /// connections (53300), or the socket closed under the statement. Nothing about the request
  /// was wrong, and the pool reconnects: the caller may retry.
  public var isConnectionLoss: Bool {
    switch code {
    case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown,
      .poolClosed:
      return true
    case .server:
      return sqlState.map(Self.isConnectionLoss) ?? false
    default:
      return false
    }
  }

  /// Whether a server's SQLSTATE says the connection was lost (`isConnectionLoss`).
  package static func isConnectionLoss(sqlState: String) -> Bool {
    sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03", "53300"].contains(sqlState)
  }
}

extension PSQLError: PartlyServiceErrorConvertible {
  /// UNAVAILABLE for a lost connection (`isConnectionLoss`), as gRPC says of a transient
  /// condition; any other database error is a fault (INTERNAL, logged).
  public var serviceErrorIfExpected: ServiceError? {
    guard isConnectionLoss else { return nil }
    return ServiceError(
      .unavailable,
      reason: "DATABASE_UNAVAILABLE",
      "the database is unreachable for now; retry shortly"
    )
  }
}
