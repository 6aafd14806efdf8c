public import Logging
import NIOCore
import NIOPosix
public import PostgresNIO
public import SuiteErrors
import SuiteKit
import Synchronization

/// Rows a statement answered, read in full while its connection was still held: nothing is
/// left unread on a connection going back to the pool or on to the transaction's next
/// statement. Read like postgres-nio's row sequences (`for try await`, `decode`).
public struct Rows: AsyncSequence, Sendable {
  public typealias Element = PostgresRow

  private let all: [PostgresRow]

  init<Source: AsyncSequence>(reading source: Source) async throws
  where Source.Element == PostgresRow {
    var all: [PostgresRow] = []
    for try await row in source { all.append(row) }
    self.all = all
  }

  public struct AsyncIterator: AsyncIteratorProtocol {
    var rows: IndexingIterator<[PostgresRow]>
    public mutating func next() async throws -> PostgresRow? { rows.next() }
  }

  public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rows: all.makeIterator()) }
}

extension PostgresConnection {
  /// `sql` on this connection, its rows read in full; `ConnectionClosed` once the connection
  /// has closed (see `whileOpen`). The suite's only way to send unprepared statements.
  @discardableResult
  public func send(_ sql: PostgresQuery, logger: Logger) async throws -> Rows {
    try await whileOpen { try await Rows(reading: query(sql, logger: logger)) }
  }

  /// Runs `send`, which writes one statement to this connection, on the connection's own
  /// event loop, right after checking there that the connection is still open; throws
  /// `ConnectionClosed` otherwise.
  ///
  /// postgres-nio (1.33) writes a statement to its channel without a promise. On a channel
  /// that has closed and lost its handlers the write fails unseen, and the statement's answer
  /// never comes: the task that sent it waits forever, deaf to cancellation
  /// (postgres-nio#487, reverted by #501). One such wait in a transaction or a worker held a
  /// service's graceful shutdown open for good after a terminated backend. A check made on
  /// another thread leaves a moment between the check and the write for the channel to close
  /// in. On the event loop there is none: the channel closes on that loop, and postgres-nio's
  /// statement functions write without suspending first, so check and write are one step of
  /// the loop. A channel still open then has its handler, which answers every statement it
  /// was given, with an error if the connection closes later. Work already running on that
  /// loop (`Database.withConnectionOnItsLoop`) checks and writes without a hop there.
  func whileOpen<Result>(_ send: () async throws -> Result) async throws -> Result {
    if eventLoop.inEventLoop { return try await checkedAndSent(send) }
    return try await withTaskExecutorPreference(EventLoopTaskExecutor.of(eventLoop)) {
      try await checkedAndSent(send)
    }
  }

  /// Called on the connection's loop: nothing between the check and `send`'s write.
  private func checkedAndSent<Result>(_ send: () async throws -> Result) async throws -> Result {
    if isClosed { throw ConnectionClosed() }
    return try await send()
  }
}

/// Whether `error` says the database connection was lost (`ConnectionClosed`, or postgres-nio's
/// `PSQLError.isConnectionLoss`) rather than anything about the work: worth doing again on a
/// new connection.
public func isConnectionLoss(_ error: any Error) -> Bool {
  error is ConnectionClosed || (error as? PSQLError)?.isConnectionLoss == true
}

/// The database connection closed under the work (a terminated backend, a restart):
/// UNAVAILABLE, which the caller may retry on a new connection.
public struct ConnectionClosed: Error, Equatable, ServiceErrorConvertible {
  public init() {}

  public var serviceError: ServiceError {
    ServiceError(
      .unavailable,
      reason: "DATABASE_UNAVAILABLE",
      "the database connection was lost; retry shortly"
    )
  }
}

extension Database {
  /// `body` with a pooled connection, run from the lease on by the connection's own event loop
  /// (and before it by the loop the caller was on, or another of the pool's). A statement is
  /// written and answered on that loop (`whileOpen`); done there, the work between statements
  /// and the connection's return to the pool follow without a hop back to the caller's loop,
  /// which under load holds a queue of its own RPCs: waiting in it, a connection the statement
  /// was done with stayed leased (LookupWorkspace under load, h2load 16 x 32, three alternating
  /// runs each: 13.3-13.6 thousand a second that way, 14.5-15.0 this way).
  func withConnectionOnItsLoop<Result: Sendable>(
    _ body: (PostgresConnection) async throws -> Result
  ) async throws -> Result {
    let executor = LeasedConnectionExecutor(
      on: MultiThreadedEventLoopGroup.currentEventLoop ?? NIOSingletons.posixEventLoopGroup.next()
    )
    return try await withTaskExecutorPreference(executor) {
      try await client.withConnection { connection in
        executor.follow(connection.eventLoop)
        return try await body(connection)
      }
    }
  }
}

/// Runs a task's jobs on one event loop, then, once it has leased a connection, on the
/// connection's (`Database.withConnectionOnItsLoop`).
private final class LeasedConnectionExecutor: TaskExecutor {
  private let loop: Mutex<any EventLoop>

  init(on loop: any EventLoop) { self.loop = Mutex(loop) }

  func follow(_ loop: any EventLoop) { self.loop.withLock { $0 = loop } }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    loop.withLock { $0 }.execute { job.runSynchronously(on: executor) }
  }
}
