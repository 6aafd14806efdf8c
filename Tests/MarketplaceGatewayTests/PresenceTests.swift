import Logging
import MarketplaceGateway
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Synchronization
import Testing

/// A process's presence in the database, and the lifecycle work marked with it: free the
/// moment its process lets go (or dies), never while it lives. The activation's sagas and
/// creations are checked in `ActivationRetryTests`, a gateway killed mid-activation in
/// `ActivationFlowTests`.
@Suite("Work whose process died")
struct PresenceTests {
  static func isAlive(_ database: Database, _ id: Int32) async throws -> Bool {
    for try await alive in try await database.query(
      "SELECT \(unescaped: Presence.isAlive("\(id)"))"
    ).decode(Bool.self) {
      return alive
    }
    return false
  }

  @Test("a presence is alive while its process holds it, and gone the moment it lets go")
  func presence() async throws {
    try await TestDatabase.withMigratedDatabase(GatewayStore.migrations()) { _, database in
      let (first, second) = try await TestDatabase.withPresence(database) { first in
        try await TestDatabase.withPresence(database) { second in
          let ids = (try first.id(), try second.id())
          #expect(ids.0 != ids.1)
          #expect(try await Self.isAlive(database, ids.0))
          #expect(try await Self.isAlive(database, ids.1))
          return ids
        }
      }
      #expect(try await !Self.isAlive(database, first))
      #expect(try await !Self.isAlive(database, second))
      #expect(try await !Self.isAlive(database, TestDatabase.deadPresence))
    }
  }

  @Test(
    "a lifecycle operation of a dead worker is taken at once; a live worker's is not, nor its subscription's next"
  )
  func lifecycleOperations() async throws {
    try await TestDatabase.withMigratedDatabase(GatewayStore.migrations()) { _, database in
      try await TestDatabase.withPresence(database) { presence in
        let store = GatewayStore(database: database, logger: Logger(label: "presence-test"))
        let live = try presence.id()
        // A Suspend a live worker is doing (an hour of lease left), and the same subscription's
        // next operation, due.
        _ = try await database.query(
          """
          INSERT INTO lifecycle_operations (id, subscription_id, action, source, lease_until, runner, received_at)
          VALUES ('op-1', 'sub-1', 'Suspend', 'webhook', now() + interval '1 hour', \(live), now() - interval '1 minute'),
            ('op-2', 'sub-1', 'Reinstate', 'webhook', NULL, NULL, now())
          """
        )
        #expect(
          try await store.claimDueOperations(limit: 10, runner: live, lease: .seconds(3600)).isEmpty
        )
        #expect(try await store.operationIsLeased("op-1"))
        // Its worker's process died: the operation is free before its lease ends, and it is
        // the one taken (the subscription's operations stay in order).
        _ = try await database.query(
          "UPDATE lifecycle_operations SET runner = \(TestDatabase.deadPresence) WHERE id = 'op-1'"
        )
        #expect(try await !store.operationIsLeased("op-1"))
        let taken = try await store.claimDueOperations(
          limit: 10,
          runner: live,
          lease: .seconds(3600)
        )
        #expect(taken.map(\.id) == ["op-1"])
        #expect(try await store.operationIsLeased("op-1"))
      }
    }
  }

  /// Set once a task has ended.
  final class Ended: Sendable {
    let flag = Atomic(false)
    var now: Bool { flag.load(ordering: .relaxed) }
  }

  @Test(
    "a presence whose connection is terminated comes back under a new id, and still stops when asked"
  )
  func terminatedConnection() async throws {
    try await TestDatabase.withMigratedDatabase(GatewayStore.migrations()) { _, database in
      let presence = Presence(
        database: database,
        logger: Logger(label: "presence-test"),
        heartbeat: .milliseconds(100)
      )
      let ended = Ended()
      // Not a child task: a presence stuck on its dead connection (postgres-nio never answers a
      // statement written to a closed channel, and ignores cancellation) would hold the test's
      // scope forever instead of failing it.
      let running = Task {
        try? await presence.run()
        ended.flag.store(true, ordering: .relaxed)
      }
      defer { running.cancel() }
      #expect(await presence.established())
      let first = try presence.id()

      // An operator (or a failover) ends the session holding the lock.
      _ = try await database.query(
        """
        SELECT pg_terminate_backend(pid) FROM pg_locks
        WHERE locktype = 'advisory' AND granted AND objsubid = 2 AND objid = \(Int(first))::oid
        """
      )
      let renewed = try await eventually { (try? presence.id()).map { $0 != first } ?? false }
      #expect(renewed, "the presence kept claiming the id of a lock it had lost")
      #expect(try await !Self.isAlive(database, first))
      if let second = try? presence.id() { #expect(try await Self.isAlive(database, second)) }

      running.cancel()
      let stopped = try await eventually { ended.now }
      #expect(stopped, "the presence did not stop")
    }
  }
}
