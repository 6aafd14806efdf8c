import Logging
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing

/// Background work one replica at a time (`Database.exclusively`): two clients of one
/// database stand for two replicas of a service.
@Suite("Work one replica at a time")
struct ExclusiveWorkTests {
  struct Refused: Error {}

  @Test(
    "while one replica runs the work the other skips it; the work is free again when the first returns, throws or loses its connection"
  )
  func exclusively() async throws {
    try await TestDatabase.withFreshDatabase { url in
      try await TestDatabase.withClient(url) { clientA in
        try await TestDatabase.withClient(url) { clientB in
          let first = Database(client: clientA, logger: Logger(label: "replica-a"))
          let second = Database(client: clientB, logger: Logger(label: "replica-b"))
          let lock: Int64 = 0x7465_7374

          // The first replica is inside the work until the test lets it go.
          let (entered, enter) = AsyncStream<Void>.makeStream()
          let (released, release) = AsyncStream<Void>.makeStream()
          var arrivals = entered.makeAsyncIterator()
          async let firstRun = first.exclusively(lock) {
            enter.yield()
            for await _ in released { break }
            return 1
          }
          await arrivals.next()
          let skipped = try await second.exclusively(lock) { 2 }
          #expect(skipped == nil)
          let otherWork = try await second.exclusively(lock + 1) { 3 }
          #expect(otherWork == 3)
          release.yield()
          let firstResult = try await firstRun
          #expect(firstResult == 1)
          let afterReturn = try await second.exclusively(lock) { 4 }
          #expect(afterReturn == 4)

          await #expect(throws: Refused.self) {
            _ = try await first.exclusively(lock) { () throws -> Int in throw Refused() }
          }
          let afterThrow = try await second.exclusively(lock) { 5 }
          #expect(afterThrow == 5)

          // A replica whose connection is cut (its process died, say) holds nothing more.
          let (cutReleased, cutRelease) = AsyncStream<Void>.makeStream()
          async let cutRun = first.exclusively(lock) {
            enter.yield()
            for await _ in cutReleased { break }
            return 6
          }
          await arrivals.next()
          let holders = try await clientB.query(
            """
            SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND ((classid::bigint << 32) | objid::bigint) = \(lock)
            """
          ).collect().map { try $0.decode(Int32.self) }
          #expect(holders.count == 1)
          for pid in holders {
            try await clientB.query("SELECT pg_terminate_backend(\(pid))")
          }
          var takenOver: Int?
          let deadline = ContinuousClock.now + .testPatience
          while takenOver == nil, ContinuousClock.now < deadline {
            takenOver = try await second.exclusively(lock) { 7 }
            if takenOver == nil { try await Task.sleep(for: .milliseconds(20)) }
          }
          #expect(takenOver == 7)
          cutRelease.yield()
          let cutResult = try await cutRun
          #expect(cutResult == 6)
        }
      }
    }
  }
}
