import GRPCCore
import Logging
import PostgresNIO
import SuiteKit
import SuiteRPC
import SuiteTesting
import Synchronization
import Testing

@testable import SuitePersistence

@Suite("Transactions")
struct TransactionTests {
  static let schema = [
    Migration(
      component: "demo",
      version: 1,
      name: "counter",
      sql:
        "CREATE TABLE counter (id integer PRIMARY KEY, n integer NOT NULL);\nINSERT INTO counter VALUES (1, 0);"
    )
  ]

  @Test("serialization failures are retried until every increment lands once")
  func retriesSerializationFailures() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      let retrying = Database(
        client: database.client,
        logger: Logger(label: "test"),
        maxAttempts: 50
      )
      try await withThrowingTaskGroup(of: Void.self) { group in
        for _ in 0..<8 {
          group.addTask {
            try await retrying.transaction(isolation: .serializable) { connection in
              // Read, then write what was read: concurrent runs conflict (SQLSTATE 40001).
              let rows = try await connection.query(
                "SELECT n FROM counter WHERE id = 1",
                logger: Logger(label: "t")
              )
              var current = 0
              for try await n in rows.decode(Int.self) { current = n }
              try await Task.sleep(for: .milliseconds(5))
              try await connection.query(
                "UPDATE counter SET n = \(current + 1) WHERE id = 1",
                logger: Logger(label: "t")
              )
            }
          }
        }
        try await group.waitForAll()
      }
      let rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 8) }
    }
  }

  @Test("a throwing body rolls everything back")
  func rollsBack() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      struct Abort: Error {}
      await #expect(throws: Abort.self) {
        try await database.transaction { connection in
          try await connection.query(
            "UPDATE counter SET n = 99 WHERE id = 1",
            logger: Logger(label: "t")
          )
          throw Abort()
        }
      }
      let rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 0) }
    }
  }

  @Test(
    "past the caller's deadline a transaction is rolled back instead of committed, and no statement is sent"
  )
  func nothingLandsAfterTheDeadline() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      let deadline = ContinuousClock.now + .milliseconds(200)
      let rpc = RequestContext.serving("test.Demo/Write", deadline: deadline)
      // DeadlinePassed: the RPC layer answers it DEADLINE_EXCEEDED (ErrorMappingTests).
      _ = try await #require(throws: DeadlinePassed.self) {
        try await RequestContext.$current.withValue(rpc) {
          try await database.transaction { connection in
            try await connection.query(
              "UPDATE counter SET n = 7 WHERE id = 1",
              logger: Logger(label: "t")
            )
            // The work outlasts the caller's deadline.
            try await Task.sleep(until: deadline, tolerance: .zero, clock: .continuous)
          }
        }
      }
      _ = try await #require(throws: DeadlinePassed.self) {
        try await RequestContext.$current.withValue(rpc) {
          try await database.query("UPDATE counter SET n = 8 WHERE id = 1")
        }
      }
      var rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 0) }

      // With time left, the same work commits.
      let roomy = RequestContext.serving("test.Demo/Write", deadline: .now + .seconds(3600))
      try await RequestContext.$current.withValue(roomy) {
        try await database.transaction { connection in
          try await connection.query(
            "UPDATE counter SET n = 7 WHERE id = 1",
            logger: Logger(label: "t")
          )
        }
      }
      rows = try await database.query("SELECT n FROM counter WHERE id = 1")
      for try await n in rows.decode(Int.self) { #expect(n == 7) }
    }
  }

  @Test(
    "a connection PostgreSQL ends (an operator, a restart) is UNAVAILABLE to the caller: its error, and a statement sent after it"
  )
  func droppedConnectionIsUnavailable() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, _ in
      // A pool of its own: the lost connection is never leased again by anything else.
      try await TestDatabase.withClient(url) { client in
        let logger = Logger(label: "t")
        let (ended, after): ((any Error)?, (any Error)?) = try await client.withConnection {
          connection in
          var ended: (any Error)?
          do {
            // What pg_terminate_backend from an operator, or a restart, does to a connection.
            for try await _ in try await connection.query(
              "SELECT pg_terminate_backend(pg_backend_pid())",
              logger: logger
            ) {}
          } catch {
            ended = error
          }
          let closed = try await eventually { connection.isClosed }
          #expect(closed)
          var after: (any Error)?
          do {
            try await connection.execute("SELECT 1", logger: logger)
          } catch {
            after = error
          }
          return (ended, after)
        }
        let endedError = try #require(ended as? PSQLError, "\(String(reflecting: ended))")
        #expect(endedError.isConnectionLoss, "\(String(reflecting: endedError))")
        #expect(
          ErrorMappingInterceptor.rpcError(for: endedError, domain: "test.v1").code == .unavailable
        )
        // Sent after the close, a statement would never be answered (postgres-nio): refused.
        let afterError = try #require(after as? ConnectionClosed, "\(String(reflecting: after))")
        #expect(
          ErrorMappingInterceptor.rpcError(for: afterError, domain: "test.v1").code == .unavailable
        )
      }
    }
  }

  @Test(
    "a transaction whose connection closed under it ends with its own error; it does not wait forever on a ROLLBACK no one answers"
  )
  func closedUnderTheBody() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { _, database in
      struct Abort: Error {}
      let outcomeBox = OutcomeBox()
      // Not a child task: the bug this checks waited forever, deaf to cancellation.
      let work = Task {
        do {
          try await database.transaction { connection in
            var pid = 0
            for try await id in try await connection.query(
              "SELECT pg_backend_pid()",
              logger: Logger(label: "t")
            ).decode(Int.self) {
              pid = id
            }
            // Another session ends this one, as an operator or a restart would.
            _ = try await database.query("SELECT pg_terminate_backend(\(Int32(pid)))")
            let closed = try await eventually { connection.isClosed }
            #expect(closed)
            throw Abort()
          }
          outcomeBox.set("committed")
        } catch is Abort {
          outcomeBox.set("its own error")
        } catch {
          outcomeBox.set(String(reflecting: error))
        }
      }
      defer { work.cancel() }
      let ended = try await eventually { outcomeBox.value != nil }
      #expect(ended, "the transaction never ended")
      #expect(outcomeBox.value == "its own error")
    }
  }

  @Test(
    "a statement is checked and written on its connection's event loop, where the connection closes: it cannot close between the two"
  )
  func checkedWhereItCloses() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, _ in
      try await TestDatabase.withClient(url) { client in
        try await client.withConnection { connection in
          #expect(!connection.eventLoop.inEventLoop)
          let onLoop = try await connection.whileOpen { connection.eventLoop.inEventLoop }
          #expect(onLoop)
        }
      }
    }
  }

  @Test(
    "a statement sent while its connection closes is answered with an error, never left waiting: 1,000 races of the two"
  )
  func statementRacingTheClose() async throws {
    try await TestDatabase.withMigratedDatabase(Self.schema) { url, _ in
      try await TestDatabase.withClient(url) { client in
        let logger = Logger(label: "t")
        let outcomeBox = OutcomeBox()
        // Not a child task: the bug this checks waited forever, deaf to cancellation.
        let work = Task {
          var refused = 0
          for round in 0..<1000 {
            try await client.withConnection { connection in
              // The close starts on the connection's loop while the statement is on its way
              // there, from 0 to 40 µs behind it or ahead of it from round to round.
              connection.eventLoop.execute { let _: EventLoopFuture<Void> = connection.close() }
              let sendAt = ContinuousClock.now + .microseconds(round % 41)
              while ContinuousClock.now < sendAt {}
              do {
                try await connection.send("SELECT 1", logger: logger)
              } catch let error as PSQLError where error.isConnectionLoss {
                refused += 1
              } catch is ConnectionClosed {
                refused += 1
              }
            }
          }
          outcomeBox.set("\(refused) refused")
        }
        defer { work.cancel() }
        let ended = try await eventually { outcomeBox.value != nil }
        #expect(ended, "a statement was never answered")
        #expect(outcomeBox.value == "1000 refused")
      }
    }
  }

  /// What a task outside the test's scope ended with.
  final class OutcomeBox: Sendable {
    private let outcome = Mutex<String?>(nil)
    var value: String? { outcome.withLock { $0 } }
    func set(_ value: String) { outcome.withLock { $0 = value } }
  }
}
