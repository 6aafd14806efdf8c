import CLibPQ
public import Foundation
public import Logging
import PostgresNIO
public import SuitePersistence
import Synchronization

/// A service's hottest reads (one statement, a key in, a row or none out) sent through libpq in
/// pipeline mode rather than postgres-nio: each connection has a thread of its own that takes
/// every read waiting for it, sends them all, one sync, then reads their results in order. Under
/// load one round trip and one pair of socket writes and reads carry dozens of statements, where
/// postgres-nio's pool sends each statement on its own (bench/results/grpc.md, (d) and (d′)).
///
/// For statements outside transactions only: a read sees what is committed when it runs, as a
/// pooled statement does. A lost connection fails the reads it carried with `ConnectionClosed`
/// (UNAVAILABLE) and is made again for the next ones.
public final class PipelinedReads: Sendable {
  /// A statement prepared on every connection: `sql` with `parameters` placeholders ($1...), each
  /// sent as text (PostgreSQL parses it as the placeholder's type); columns come back binary.
  public struct Statement: Sendable, Hashable {
    public let name: String
    public let sql: String
    public let parameters: Int

    public init(name: String, sql: String, parameters: Int) {
      self.name = name
      self.sql = sql
      self.parameters = parameters
    }
  }

  /// One row: each column's value in PostgreSQL's binary format, nil for NULL.
  public struct Row: Sendable {
    public let columns: [[UInt8]?]

    public func uuid(_ column: Int) throws -> UUID {
      let bytes = try value(column, length: 16)
      return UUID(
        uuid: (
          bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
          bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
        )
      )
    }

    public func text(_ column: Int) throws -> String {
      String(decoding: try value(column, length: nil), as: UTF8.self)
    }

    /// A `timestamptz`: microseconds since 2000-01-01 UTC, big-endian.
    public func date(_ column: Int) throws -> Date {
      let micros = try value(column, length: 8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      return Date(
        timeIntervalSinceReferenceDate: Double(Int64(bitPattern: micros)) / 1_000_000 + Self.epoch
      )
    }

    /// 2000-01-01 00:00 UTC after Foundation's reference date (2001-01-01): a year earlier.
    private static let epoch = -31_622_400.0

    private func value(_ column: Int, length: Int?) throws -> [UInt8] {
      guard column < columns.count, let bytes = columns[column],
        length == nil || bytes.count == length
      else { throw UnexpectedColumn(column: column) }
      return bytes
    }
  }

  /// A column missing, NULL or of the wrong size for the type read from it.
  public struct UnexpectedColumn: Error {
    public let column: Int
  }

  /// A statement PostgreSQL refused (not a lost connection): its SQLSTATE and message.
  public struct StatementFailed: Error, CustomStringConvertible {
    public let sqlState: String
    public let message: String
    public var description: String {
      "PostgreSQL refused a pipelined read (\(sqlState)): \(message)"
    }
  }

  private let lanes: [Lane]
  private let nextLane = Atomic<Int>(0)

  /// Opens nothing yet: each connection is made by its thread when the first read reaches it
  /// (and again after a loss), so a service starts whether or not the database answers.
  public init(url: DatabaseURL, statements: [Statement], connections: Int, logger: Logger) {
    let conninfo = Self.conninfo(url)
    lanes = (0..<max(1, connections)).map { index in
      Lane(conninfo: conninfo, statements: statements, logger: logger, index: index)
    }
    for lane in lanes { lane.start() }
  }

  /// Ends every connection's thread once the reads already taken are answered; reads sent after
  /// fail with `ConnectionClosed`.
  public func close() {
    for lane in lanes { lane.close() }
  }

  /// The rows `statement` reads with `parameters` (text, nil for NULL).
  public func rows(_ statement: Statement, _ parameters: [String?]) async throws -> [Row] {
    precondition(
      parameters.count == statement.parameters,
      "\(statement.name) takes \(statement.parameters) values"
    )
    let lane = lanes[nextLane.wrappingAdd(1, ordering: .relaxed).oldValue % lanes.count]
    // Counted and traced as the pool's statements are.
    return try await Database.counted(statement.sql) {
      try await withCheckedThrowingContinuation { continuation in
        lane.submit(Read(statement: statement.name, parameters: parameters, answer: continuation))
      }
    }
  }

  /// libpq's keyword/value connection string for `url` (values quoted, as libpq reads them).
  package static func conninfo(_ url: DatabaseURL) -> String {
    var pairs: [(String, String)] = [
      ("host", url.host), ("port", "\(url.port)"), ("user", url.username), ("dbname", url.database),
      ("sslmode", url.tls.rawValue), ("application_name", "pipelined-reads"),
    ]
    if let password = url.password { pairs.append(("password", password)) }
    if let file = url.rootCertificateFile {
      pairs.append(("sslrootcert", file))
    } else if url.tls == .verifyCA || url.tls == .verifyFull {
      // Without a file (or with `system`) the suite checks against the system's trust roots
      // (DatabaseURL); libpq 15 would read ~/.postgresql/root.crt and knows no `system`.
      pairs.append(("sslrootcert", "/etc/ssl/certs/ca-certificates.crt"))
    }
    if let timeout = url.connectTimeout {
      pairs.append(("connect_timeout", "\(max(1, timeout.components.seconds))"))
    }
    if let milliseconds = url.statementTimeoutMilliseconds {
      pairs.append(("options", "-c statement_timeout=\(milliseconds)"))
    }
    return pairs.map { key, value in
      let quoted = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(
        of: "'",
        with: "\\'"
      )
      return "\(key)='\(quoted)'"
    }.joined(separator: " ")
  }
}

private struct Read: Sendable {
  let statement: String
  let parameters: [String?]
  let answer: CheckedContinuation<[PipelinedReads.Row], any Error>
}

/// One connection and its thread. Reads wait in `waiting` (under `condition`) until the thread
/// takes them all at once.
private final class Lane: @unchecked Sendable {
  /// Most reads in one pipeline: their statements and results fit the sockets' buffers, so
  /// sending all before reading any cannot stall on a server waiting for its results to be read.
  static let mostAtOnce = 128

  private let conninfo: String
  private let statements: [PipelinedReads.Statement]
  private let logger: Logger
  private let index: Int
  private let condition = NSCondition()
  // Guarded by `condition`.
  private var waiting: [Read] = []
  private var closed = false
  // The thread's own.
  private var connection: OpaquePointer?

  init(conninfo: String, statements: [PipelinedReads.Statement], logger: Logger, index: Int) {
    self.conninfo = conninfo
    self.statements = statements
    self.logger = logger
    self.index = index
  }

  func start() {
    let thread = Thread { [self] in run() }
    thread.name = "pipelined-reads-\(index)"
    thread.start()
  }

  func submit(_ read: Read) {
    condition.lock()
    if closed {
      condition.unlock()
      read.answer.resume(throwing: ConnectionClosed())
      return
    }
    waiting.append(read)
    condition.signal()
    condition.unlock()
  }

  func close() {
    condition.lock()
    closed = true
    condition.signal()
    condition.unlock()
  }

  private func run() {
    while let batch = next() {
      guard let connection = connected() else {
        for read in batch { read.answer.resume(throwing: ConnectionClosed()) }
        continue
      }
      let retry = send(batch, on: connection)
      if !retry.isEmpty {
        condition.lock()
        waiting.insert(contentsOf: retry, at: 0)
        condition.unlock()
      }
    }
    if let connection { PQfinish(connection) }
  }

  /// The reads waiting (at most `mostAtOnce`), once there are any; nil once closed and drained.
  private func next() -> [Read]? {
    condition.lock()
    defer { condition.unlock() }
    while waiting.isEmpty && !closed { condition.wait() }
    if waiting.isEmpty { return nil }
    let count = min(waiting.count, Self.mostAtOnce)
    let batch = Array(waiting.prefix(count))
    waiting.removeFirst(count)
    return batch
  }

  /// The open connection in pipeline mode with every statement prepared, made if need be.
  private func connected() -> OpaquePointer? {
    if let connection, PQstatus(connection) == CONNECTION_OK { return connection }
    if let connection { PQfinish(connection) }
    connection = nil
    guard let fresh = PQconnectdb(conninfo) else { return nil }
    // The reads waiting are then refused as by a lost connection; the next ones try again.
    func abandoned(_ what: String) -> OpaquePointer? {
      logger.warning("pipelined reads: \(what)", metadata: ["error": "\(Self.message(fresh))"])
      PQfinish(fresh)
      return nil
    }
    guard PQstatus(fresh) == CONNECTION_OK else { return abandoned("cannot connect") }
    for statement in statements {
      let result = PQprepare(fresh, statement.name, statement.sql, Int32(statement.parameters), nil)
      defer { PQclear(result) }
      guard PQresultStatus(result) == PGRES_COMMAND_OK else {
        return abandoned("cannot prepare \(statement.name)")
      }
    }
    guard PQenterPipelineMode(fresh) == 1 else { return abandoned("cannot enter pipeline mode") }
    connection = fresh
    return fresh
  }

  /// Sends `batch` as one pipeline and answers each read. Returns the reads PostgreSQL skipped
  /// because an earlier one in the pipeline failed (to be sent again).
  private func send(_ batch: [Read], on connection: OpaquePointer) -> [Read] {
    var sent = 0
    for read in batch {
      guard sendOne(read, on: connection) else { break }
      sent += 1
    }
    guard sent == batch.count, PQpipelineSync(connection) == 1 else {
      lost(batch[...], on: connection)
      return []
    }
    var retry: [Read] = []
    for (position, read) in batch.enumerated() {
      guard let result = PQgetResult(connection) else {
        lost(batch[position...], on: connection)
        return retry
      }
      switch PQresultStatus(result) {
      case PGRES_TUPLES_OK:
        read.answer.resume(returning: Self.rows(result))
      case PGRES_PIPELINE_ABORTED:
        retry.append(read)
      default:
        // PG_DIAG_SQLSTATE
        let state =
          PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
        if PQstatus(connection) != CONNECTION_OK || PSQLError.isConnectionLoss(sqlState: state) {
          read.answer.resume(throwing: ConnectionClosed())
        } else {
          read.answer.resume(
            throwing: PipelinedReads.StatementFailed(
              sqlState: state,
              message: String(cString: PQresultErrorMessage(result))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            )
          )
        }
      }
      PQclear(result)
      // The end of this statement's results.
      while let extra = PQgetResult(connection) { PQclear(extra) }
    }
    let sync = PQgetResult(connection)
    if PQresultStatus(sync) != PGRES_PIPELINE_SYNC { PQfinish(connection); self.connection = nil }
    PQclear(sync)
    return retry
  }

  private func sendOne(_ read: Read, on connection: OpaquePointer) -> Bool {
    var copies = read.parameters.map { $0.map { strdup($0) } ?? nil }
    defer { for copy in copies { free(copy) } }
    return copies.withUnsafeMutableBufferPointer { values in
      values.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
        PQsendQueryPrepared(
          connection,
          read.statement,
          Int32(values.count),
          values.baseAddress,
          nil,
          nil,
          1
        ) == 1
      }
    }
  }

  /// The connection failed under the reads of `unanswered`: each is told so.
  private func lost(_ unanswered: ArraySlice<Read>, on connection: OpaquePointer) {
    logger.warning(
      "pipelined reads: connection lost",
      metadata: ["error": "\(Self.message(connection))"]
    )
    PQfinish(connection)
    self.connection = nil
    for read in unanswered { read.answer.resume(throwing: ConnectionClosed()) }
  }

  private static func rows(_ result: OpaquePointer) -> [PipelinedReads.Row] {
    let columns = PQnfields(result)
    return (0..<PQntuples(result)).map { row in
      PipelinedReads.Row(
        columns: (0..<columns).map { column in
          if PQgetisnull(result, row, column) == 1 { return nil }
          let length = Int(PQgetlength(result, row, column))
          guard let value = PQgetvalue(result, row, column) else { return [] }
          return value.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
          }
        }
      )
    }
  }

  private static func message(_ connection: OpaquePointer) -> String {
    String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
  }
}
