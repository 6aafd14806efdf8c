public import Logging
import PostgresNIO
public import ServiceLifecycle
public import SuiteErrors
import SuiteKit
import Synchronization

/// This process as the other processes see it in the database: a session-level advisory lock
/// held on a connection of its own for as long as the process lives. Work the process claims
/// (an activation saga, a workspace being created) is marked with the presence's id, and
/// another process may take it over as soon as that id's lock is gone. PostgreSQL releases a
/// session's advisory locks the moment the session ends, so that happens when the process dies
/// (SIGKILL included: the kernel closes its socket) or its connection does, not when a lease
/// runs out.
///
/// A presence whose connection is lost comes back under a new id: work claimed under the old
/// one may already have been taken over, so the writes that carry such work on check the id
/// they claimed it with.
public final class Presence: Service, Sendable {
  /// The advisory locks' first key, fixed for the suite (ASCII "pres"); the id is the second.
  static let lockSpace: Int32 = 0x7072_6573

  private let database: Database
  private let logger: Logger
  private let heartbeat: Duration
  private let current = Mutex<Int32?>(nil)
  private let firstHeld = StartupGate()

  /// - Parameter heartbeat: how often the held connection is used, so that its loss (a backend
  ///   terminated by an operator, say) is noticed and a new presence taken within that time.
  public init(database: Database, logger: Logger, heartbeat: Duration = .seconds(1)) {
    self.database = database
    self.logger = logger
    self.heartbeat = heartbeat
  }

  /// The id to mark work claimed now with; `PresenceLost` while the presence is being taken
  /// again after its connection was lost (worth a retry shortly).
  public func id() throws(PresenceLost) -> Int32 {
    guard let id = current.withLock({ $0 }) else { throw PresenceLost() }
    return id
  }

  /// Waits until the process first holds its presence (start-up, before the work that needs it
  /// is offered); false if it stopped first.
  public func established() async -> Bool {
    await firstHeld.wait()
  }

  public func run() async throws {
    defer { firstHeld.abandon() }
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        try await hold()
      } catch {
        if Task.isShuttingDownGracefully || Task.isCancelled { break }
        logger.warning(
          "lost this process's presence in the database; taking a new one",
          metadata: ["error": "\(error)"]
        )
        await cancelWhenGracefulShutdown { try? await Task.sleep(for: self.heartbeat) }
      }
    }
  }

  /// Takes a fresh id's lock on a connection kept for it, and holds it until shutdown or until
  /// the connection fails.
  private func hold() async throws {
    let logger = self.logger
    let heartbeat = self.heartbeat
    try await database.client.withConnection { connection in
      var id: Int32 = 0
      var locked = false
      while !locked {
        id = Int32.random(in: 1...Int32.max)
        let rows = try await connection.send(
          "SELECT pg_try_advisory_lock(\(Self.lockSpace), \(id))",
          logger: logger
        )
        for try await taken in rows.decode(Bool.self) { locked = taken }
      }
      self.publish(id)
      logger.debug("holding this process's presence", metadata: ["presence": "\(id)"])
      defer { self.withdraw(id) }
      while !Task.isShuttingDownGracefully && !Task.isCancelled {
        await cancelWhenGracefulShutdown { try? await Task.sleep(for: heartbeat) }
        if Task.isShuttingDownGracefully || Task.isCancelled { break }
        // Closed since the last beat (its lock went with it): ConnectionClosed, a new presence.
        try await connection.send("SELECT 1", logger: logger)
      }
      // Stopping: the connection goes back to the pool, which must not keep the lock for it.
      _ = try? await connection.send(
        "SELECT pg_advisory_unlock(\(Self.lockSpace), \(id))",
        logger: logger
      )
    }
  }

  private func publish(_ id: Int32) {
    current.withLock { $0 = id }
    firstHeld.open()
  }

  private func withdraw(_ id: Int32) {
    current.withLock { if $0 == id { $0 = nil } }
  }

  /// SQL that is true while the presence id in `column` is held by a live session of this
  /// database: work marked with it is still being done by its process. False for NULL.
  public static func isAlive(_ column: String) -> String {
    """
    EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 \
    AND classid = \(lockSpace) AND objid = (\(column))::oid \
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
    """
  }
}

/// The process holds no presence right now (its connection was lost and a new one is being
/// taken): nothing can be claimed, and a retry shortly will work.
public struct PresenceLost: Error, Equatable, ServiceErrorConvertible {
  public init() {}

  public var serviceError: ServiceError {
    ServiceError(
      .unavailable,
      reason: "DATABASE_UNAVAILABLE",
      "the database connection is being re-established; retry shortly"
    )
  }
}
