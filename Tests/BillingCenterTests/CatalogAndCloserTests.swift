import AccountAccess
import AccountKit
import Foundation
import Logging
import PostgresNIO
import SuiteKit
import SuitePersistence
import SuiteTesting
import Testing

@testable import BillingCenter

@Suite("Price catalog and the day closer")
struct CatalogAndCloserTests {
  /// A console that knows every workspace: enough for ledger tests.
  struct EveryWorkspace: WorkspaceDirectory {
    func workspace(id: UUID, ownerSession: String?) async throws -> DirectoryWorkspace? {
      DirectoryWorkspace(id: id, name: "W", site: "us1", status: .active)
    }
  }

  @Test("a catalog file replaces the standard prices; a non-USD or malformed one is refused")
  func catalogFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "catalog-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    func write(_ name: String, _ json: String) throws -> String {
      let path = directory.appendingPathComponent(name).path
      try Data(json.utf8).write(to: URL(fileURLWithPath: path))
      return path
    }
    let good = try write(
      "good.json",
      #"{"version": "2027-01", "currency": "USD", "items": [{"code": "log_events", "name": "Logs", "unitSize": 1000000, "unitPriceMicros": 900000, "dimension": "logs"}]}"#
    )
    let catalog = try PriceCatalog(config: ConfigReader(environment: ["PRICE_CATALOG_FILE": good]))
    #expect(catalog.version == "2027-01")
    #expect(catalog.item("log_events")?.unitPriceMicros == 900_000)
    #expect(catalog.item("time_series") == nil)

    let euro = try write(
      "eur.json",
      #"{"version": "x", "currency": "EUR", "items": [{"code": "a", "name": "A", "unitSize": 1, "unitPriceMicros": 1, "dimension": "a"}]}"#
    )
    #expect(throws: ConfigError.self) {
      try PriceCatalog(config: ConfigReader(environment: ["PRICE_CATALOG_FILE": euro]))
    }
    let broken = try write("broken.json", "{")
    #expect(throws: ConfigError.self) {
      try PriceCatalog(config: ConfigReader(environment: ["PRICE_CATALOG_FILE": broken]))
    }
    #expect(try PriceCatalog(config: ConfigReader(environment: [:])) == .standard)
  }

  @Test("the closer closes every finished day with usage, and only those")
  func closer() async throws {
    try await TestDatabase.withMigratedDatabase(BillingAssembly.migrations()) { _, database in
      // A fixed "now" (2026-11-27T10:00:00Z), the billing center's clock: on the wall clock, a
      // run in the first ten minutes of a day (UTC) recorded today's usage in the future.
      let now = Date(timeIntervalSince1970: 1_795_773_600)
      let billing = BillingAssembly(
        database: database,
        directory: EveryWorkspace(),
        internalCredential: "closer-test",
        hasher: PasswordHasher(workers: 1),
        closingGrace: .seconds(3600),
        clock: { now },
        logger: Logger(label: "closer-test")
      ).billing
      let today = BillingDay(containing: now)
      let workspace = UUID().uuidString
      let times = [3, 2, 0].map { today.start.addingTimeInterval(Double(-$0 * 86400) + 600) }
      _ = try await billing.recordUsage(
        times.enumerated().map { index, time in
          GuanceBilling.RawUsageEvent(
            idempotencyKey: "k\(index)",
            workspaceID: workspace,
            billingItem: "triggers",
            quantity: "10000",
            usageTime: time
          )
        }
      )
      let closed = try await billing.closeDueDays()
      #expect(
        Set(closed.keys.map(\.description)) == [
          BillingDay(ordinal: today.ordinal - 3).description,
          BillingDay(ordinal: today.ordinal - 2).description,
        ]
      )
      #expect(closed.values.allSatisfy { $0.closedNow && $0.billLines == 1 })
      // Nothing left to do on the next pass.
      #expect(try await billing.closeDueDays().isEmpty)
    }
  }

  @Test("metering keys name the subscription, the dimension and the UTC hour")
  func meteringKey() {
    let hour = Date(timeIntervalSince1970: 1_795_773_600)  // 2026-11-27T10:00:00Z
    #expect(
      MeteringRecord.key(subscriptionID: "sub-1", dimension: "log_events", hour: hour)
        == "sub-1/log_events/2026-11-27T10:00:00Z"
    )
  }
}
