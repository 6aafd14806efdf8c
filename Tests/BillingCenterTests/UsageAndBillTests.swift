import Foundation
import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Logging
import Mailer
import PostgresNIO
import SuiteKit
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@testable import BillingCenter

@Suite("Usage ledger, daily bills and metering records")
struct UsageAndBillTests {
  /// Noon, two days ago: a day that is over.
  static var twoDaysAgo: (day: BillingDay, noon: Date) {
    let day = BillingDay(ordinal: BillingDay(containing: Date()).ordinal - 2)
    return (day, day.start.addingTimeInterval(12 * 3600))
  }

  func record(
    _ fixture: BillingFixture,
    _ events: [Guance_Billing_V1_UsageEvent]
  ) async throws
    -> [Guance_Billing_V1_UsageEventResult]
  {
    try await fixture.internalAPI.recordUsage(
      .with { $0.events = events },
      metadata: BillingFixture.internalCall
    ).results
  }

  @Test("each event is accepted once and a duplicate afterwards")
  func duplicates() async throws {
    try await BillingFixture.with { fixture in
      let now = Date()
      let workspace = UUID().uuidString
      let batch = [
        BillingFixture.event("k1", workspace: workspace, quantity: "10", at: now),
        BillingFixture.event("k2", workspace: workspace, quantity: "0.5", at: now),
        BillingFixture.event("k1", workspace: workspace, quantity: "10", at: now),
      ]
      let first = try await record(fixture, batch)
      let second = try await record(fixture, batch)
      #expect(first == [.accepted, .accepted, .duplicate])
      #expect(second == [.duplicate, .duplicate, .duplicate])
      let stored = try await fixture.count("usage_events")
      #expect(stored == 2)
    }
  }

  @Test("the same batch sent five times at once is counted once")
  func concurrentBatches() async throws {
    try await BillingFixture.with { fixture in
      let workspace = UUID().uuidString
      let now = Date()
      let batch = (0..<1000).map {
        BillingFixture.event("batch-\($0)", workspace: workspace, quantity: "1.25", at: now)
      }
      let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<5 {
          group.addTask { try await record(fixture, batch).filter { $0 == .accepted }.count }
        }
        return try await group.reduce(0, +)
      }
      #expect(accepted == 1000)
      let rows = try await fixture.database.query("SELECT sum(quantity)::text FROM usage_events")
      for try await total in rows.decode(String.self) { #expect(total == "1250.000000") }
    }
  }

  @Test(
    "a key another batch records while this one is being copied is a duplicate; the rest of the batch is accepted"
  )
  func keyRecordedMeanwhile() async throws {
    try await BillingFixture.with { fixture in
      let workspace = UUID()
      let now = Date()
      let batch = ["race-1", "race-2", "race-1"].map {
        BillingFixture.event($0, workspace: workspace.uuidString, quantity: "2", at: now)
      }
      // Another writer holds race-1, uncommitted: the batch does not see it before copying, and
      // its copy waits on the key until the writer commits, then fails on it.
      let recording = try await fixture.database.transaction { connection in
        try await connection.execute(
          """
          INSERT INTO usage_events (idempotency_key, workspace_id, billing_item, quantity, usage_time)
          VALUES ('race-1', \(workspace), 'log_events', 5, \(now))
          """,
          logger: Logger(label: "test")
        )
        let recording = Task { try await record(fixture, batch) }
        let copyWaits = try await eventually {
          try await fixture.count(
            "pg_stat_activity",
            where:
              "datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'COPY%usage_events%'"
          ) == 1
        }
        #expect(copyWaits)
        return recording
      }
      #expect(try await recording.value == [.duplicate, .accepted, .duplicate])
      let rows = try await fixture.database.query(
        "SELECT idempotency_key, quantity::text FROM usage_events ORDER BY 1"
      )
      var stored: [String] = []
      for try await (key, quantity) in rows.decode((String, String).self) {
        stored.append("\(key)=\(quantity)")
      }
      #expect(stored == ["race-1=5.000000", "race-2=2.000000"])
    }
  }

  @Test("a batch with any bad event is refused whole")
  func badBatch() async throws {
    try await BillingFixture.with { fixture in
      let workspace = UUID().uuidString
      let now = Date()
      let error = try await #require(throws: RPCError.self) {
        try await record(
          fixture,
          [
            BillingFixture.event("ok", workspace: workspace, quantity: "1", at: now),
            BillingFixture.event(
              "",
              workspace: "not-a-uuid",
              item: "gold",
              quantity: "-1",
              at: now.addingTimeInterval(86400)
            ),
            BillingFixture.event(
              "x",
              workspace: workspace,
              quantity: "1.1234567",
              at: now.addingTimeInterval(-40 * 86400)
            ),
          ]
        )
      }
      #expect(error.code == .invalidArgument)
      #expect(
        Set(error.violatedFields)
          == [
            "events[1].idempotency_key", "events[1].workspace_id", "events[1].billing_item",
            "events[1].quantity", "events[1].usage_time", "events[2].quantity",
            "events[2].usage_time",
          ]
      )
      let empty = try await #require(throws: RPCError.self) { try await record(fixture, []) }
      #expect(empty.violatedFields == ["events"])
      #expect(try await fixture.count("usage_events") == 0)
    }
  }

  @Test("closing a day rates each payer's usage, once, and cloud usage becomes metering records")
  func closeDay() async throws {
    try await BillingFixture.with { fixture in
      let (day, noon) = Self.twoDaysAgo
      let acme = try await fixture.register()
      try await fixture.link(acme)
      let cloudWorkspace = try await fixture.workspace("Cloud", owner: "alice", site: "us1")
      let ownWorkspace = try await fixture.workspace("Own", owner: "bob", site: "eu1")
      try await fixture.bind(cloudWorkspace.id, to: acme.id, settlement: BillingFixture.cloud())
      try await fixture.bind(ownWorkspace.id, to: acme.id)
      // The bindings started just now; move them back so they cover the day being billed.
      try await fixture.database.query(
        "UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days'"
      )
      let stranger = UUID().uuidString
      _ = try await record(
        fixture,
        [
          BillingFixture.event("c1", workspace: cloudWorkspace.id, quantity: "1500000", at: noon),
          BillingFixture.event(
            "c2",
            workspace: cloudWorkspace.id,
            quantity: "500000",
            at: noon.addingTimeInterval(60)
          ),
          BillingFixture.event(
            "c3",
            workspace: cloudWorkspace.id,
            item: "time_series",
            quantity: "2500",
            at: noon
          ),
          BillingFixture.event(
            "o1",
            workspace: ownWorkspace.id,
            item: "log_traffic_gb",
            quantity: "3.333333",
            at: noon
          ),
          BillingFixture.event("s1", workspace: stranger, quantity: "7", at: noon),
        ]
      )

      let closings = try await withThrowingTaskGroup(of: Guance_Billing_V1_CloseDayResponse.self) {
        group in
        for _ in 0..<4 {
          group.addTask {
            try await fixture.internalAPI.closeDay(
              .with { $0.day = day.description },
              metadata: BillingFixture.internalCall
            )
          }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      #expect(closings.filter(\.closedNow).count == 1)
      #expect(closings.first(where: \.closedNow)?.billLines == 4)
      #expect(closings.first(where: \.closedNow)?.meteringRecords == 2)

      let bill = try await fixture.center.getDailyBill(
        .with {
          $0.billingAccountID = acme.id
          $0.day = day.description
        },
        metadata: BillingFixture.internalCall
      ).bill
      let amounts = Dictionary(
        uniqueKeysWithValues: bill.lines.map {
          ("\($0.workspaceID)/\($0.billingItem)", $0.amount.micros)
        }
      )
      // 2,000,000 log events at $1.20 per million; 2,500 series at $0.60 per thousand;
      // 3.333333 GB at $0.30 per GB = $0.9999999, rounded half-even to micro-dollars.
      #expect(amounts["\(cloudWorkspace.id)/log_events"] == 2_400_000)
      #expect(amounts["\(cloudWorkspace.id)/time_series"] == 1_500_000)
      #expect(amounts["\(ownWorkspace.id)/log_traffic_gb"] == 1_000_000)
      #expect(bill.total.micros == 4_900_000)
      #expect(bill.total.currency == "USD")
      #expect(try await fixture.count("daily_bill_lines", where: "billing_account_id IS NULL") == 1)

      let month = String(day.description.prefix(7))
      let bills = try await fixture.center.listBills(
        .with {
          $0.billingAccountID = acme.id
          $0.month = month
        },
        metadata: BillingFixture.internalCall
      )
      #expect(bills.bills.map(\.day) == [day.description])
      #expect(bills.total.micros == 4_900_000)

      let pending = try await fixture.internalAPI.listPendingMeteringRecords(
        .init(),
        metadata: BillingFixture.internalCall
      ).records
      #expect(Set(pending.map(\.dimension)) == ["log_events", "time_series"])
      #expect(pending.first { $0.dimension == "log_events" }?.quantity == "2")
      #expect(pending.first { $0.dimension == "time_series" }?.quantity == "2.5")
      #expect(pending.allSatisfy { $0.effectiveStartTime.date == day.end })

      let late = try await #require(throws: RPCError.self) {
        try await record(
          fixture,
          [BillingFixture.event("late", workspace: stranger, quantity: "1", at: noon)]
        )
      }
      #expect(late.code == .failedPrecondition)
    }
  }

  @Test("acknowledgements settle metering records; retries stay pending")
  func acknowledgements() async throws {
    try await BillingFixture.with { fixture in
      let (day, noon) = Self.twoDaysAgo
      let acme = try await fixture.register()
      try await fixture.link(acme)
      let workspace = try await fixture.workspace()
      try await fixture.bind(workspace.id, to: acme.id, settlement: BillingFixture.cloud())
      try await fixture.database.query(
        "UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days'"
      )
      _ = try await record(
        fixture,
        [
          BillingFixture.event("a", workspace: workspace.id, quantity: "1000000", at: noon),
          BillingFixture.event(
            "b",
            workspace: workspace.id,
            item: "trace_spans",
            quantity: "1000000",
            at: noon
          ),
        ]
      )
      _ = try await fixture.internalAPI.closeDay(
        .with { $0.day = day.description },
        metadata: BillingFixture.internalCall
      )
      let pending = try await fixture.internalAPI.listPendingMeteringRecords(
        .init(),
        metadata: BillingFixture.internalCall
      ).records
      #expect(pending.count == 2)
      let reply = try await fixture.internalAPI.acknowledgeMeteringRecords(
        .with {
          $0.acknowledgements = [
            .with {
              $0.key = pending[0].key
              $0.outcome = .accepted
              $0.marketplaceStatus = "Accepted"
            },
            .with {
              $0.key = pending[1].key
              $0.outcome = .retry
              $0.message = "timeout"
            },
            .with {
              $0.key = "no/such/key"
              $0.outcome = .duplicate
            },
          ]
        },
        metadata: BillingFixture.internalCall
      )
      #expect(reply.unknownKeys == ["no/such/key"])
      let still = try await fixture.internalAPI.listPendingMeteringRecords(
        .init(),
        metadata: BillingFixture.internalCall
      ).records
      #expect(still.map(\.key) == [pending[1].key])
      #expect(still.first?.attempts == 1)
      // An accepted record stays accepted, whatever answer comes later.
      _ = try await fixture.internalAPI.acknowledgeMeteringRecords(
        .with {
          $0.acknowledgements = [
            .with {
              $0.key = pending[0].key
              $0.outcome = .rejected
            }
          ]
        },
        metadata: BillingFixture.internalCall
      )
      #expect(try await fixture.count("metering_records", where: "status = 'accepted'") == 1)
    }
  }

  @Test("a day that is not over cannot be closed, and history decides who paid")
  func dayRules() async throws {
    try await BillingFixture.with { fixture in
      // The day an hour from now: not over whenever the billing center reads its clock during
      // this test (today's own could end between the test's reading and the service's).
      let notOver = BillingDay(containing: Date().addingTimeInterval(3600))
      let early = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.closeDay(
          .with { $0.day = notOver.description },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(early.code == .failedPrecondition)
      let malformed = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.closeDay(
          .with { $0.day = "2026-02-30" },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(malformed.code == .invalidArgument)

      // Paid by the billing account until 12:00, through the cloud account after.
      let (day, noon) = Self.twoDaysAgo
      let acme = try await fixture.register()
      try await fixture.link(acme)
      let workspace = try await fixture.workspace()
      try await fixture.bind(workspace.id, to: acme.id)
      _ = try await fixture.center.changeSettlementMethod(
        .with {
          $0.billingAccountID = acme.id
          $0.workspaceID = workspace.id
          $0.settlement = BillingFixture.cloud()
        },
        metadata: BillingFixture.internalCall
      )
      try await fixture.database.query(
        """
        UPDATE workspace_bindings SET valid_from = \(day.start), valid_to = \(noon) WHERE valid_to IS NOT NULL;
        """
      )
      try await fixture.database.query(
        "UPDATE workspace_bindings SET valid_from = \(noon) WHERE valid_to IS NULL"
      )
      _ = try await record(
        fixture,
        [
          BillingFixture.event(
            "m",
            workspace: workspace.id,
            quantity: "1000000",
            at: noon.addingTimeInterval(-3600)
          ),
          BillingFixture.event(
            "a",
            workspace: workspace.id,
            quantity: "3000000",
            at: noon.addingTimeInterval(3600)
          ),
        ]
      )
      _ = try await fixture.internalAPI.closeDay(
        .with { $0.day = day.description },
        metadata: BillingFixture.internalCall
      )
      let bill = try await fixture.center.getDailyBill(
        .with {
          $0.billingAccountID = acme.id
          $0.day = day.description
        },
        metadata: BillingFixture.internalCall
      ).bill
      let bySettlement = Dictionary(
        uniqueKeysWithValues: bill.lines.map { ($0.settlement.method, $0.quantity) }
      )
      #expect(bySettlement[.billingAccount] == "1000000")
      #expect(bySettlement[.cloudAccount] == "3000000")
    }
  }
}

@Suite("Rating rules")
struct RatingTests {
  @Test("quantities parse strictly and amounts round half-even to micro-dollars")
  func quantities() throws {
    #expect(Quantity.parse("1250.5") == Decimal(string: "1250.5"))
    for bad in ["", "-1", "1.", ".5", "1e3", "1.1234567", "0x10", " 1"] {
      #expect(Quantity.parse(bad) == nil, "\(bad)")
    }
    #expect(
      Quantity.amountMicros(
        quantity: try #require(Quantity.parse("0.5")),
        unitSize: 1,
        unitPriceMicros: 1
      ) == 0
    )
    #expect(
      Quantity.amountMicros(
        quantity: try #require(Quantity.parse("1.5")),
        unitSize: 1,
        unitPriceMicros: 1
      ) == 2
    )
    #expect(
      Quantity.amountMicros(
        quantity: try #require(Quantity.parse("2.5")),
        unitSize: 1,
        unitPriceMicros: 1
      ) == 2
    )
    #expect(
      Quantity.amountMicros(
        quantity: try #require(Quantity.parse("3.5")),
        unitSize: 1,
        unitPriceMicros: 1
      ) == 4
    )
    #expect(Quantity.text(try #require(Quantity.parse("10.500000"))) == "10.5")
  }

  @Test("quantities read byte by byte equal Foundation's reading of the same text")
  func quantitiesAsFoundation() throws {
    let posix = Locale(identifier: "en_US_POSIX")
    var texts = [
      "0", "0.0", "000", "7", "10", "1250.5", "0.000001", "999999999999999999.999999",
      "100000000000000000", "3.140000", "0.100", "42.000001", "184467440737095516.5",
    ]
    var random = SystemRandomNumberGenerator()
    for _ in 0..<500 {
      let whole = String(UInt64.random(in: 0...999_999_999_999_999_999, using: &random))
      let places = Int.random(in: 0...6, using: &random)
      let fraction = (0..<places).map { _ in String(Int.random(in: 0...9, using: &random)) }
        .joined()
      texts.append(places == 0 ? whole : "\(whole).\(fraction)")
    }
    for text in texts {
      let parsed = try #require(Quantity.parse(text), "\(text)")
      let foundation = try #require(Decimal(string: text, locale: posix))
      #expect(parsed == foundation, "\(text)")
      #expect(UsageQuantity(text)?.text == text)
    }
    #expect(UsageQuantity("1.1234567") == nil)
  }

  @Test(
    "workspace ids are read as UUID(uuidString:) reads them, and written as uuidString.lowercased() writes them"
  )
  func workspaceIDs() {
    for _ in 0..<200 {
      let id = UUID()
      #expect(UUID(canonical: id.uuidString) == id)
      #expect(UUID(canonical: id.uuidString.lowercased()) == id)
      #expect(id.canonicalText == id.uuidString.lowercased())
    }
    for edge in ["00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"] {
      #expect(UUID(canonical: edge)?.canonicalText == edge)
    }
    let good = "8f14e45f-ceea-467f-a0e6-3f4e1a9c2b10"
    for bad in [
      "", "8f14e45f-ceea-467f-a0e6-3f4e1a9c2b1", "8f14e45f-ceea-467f-a0e6-3f4e1a9c2b100",
      "8f14e45fxceea-467f-a0e6-3f4e1a9c2b10", "8f14e45f-ceea-467f-a0e6-3f4e1a9c2b1g",
      "8f14e45f0ceea0467f0a0e603f4e1a9c2b10", "{8f14e45f-ceea-467f-a0e6-3f4e1a9c2b1}",
      "8f14e45f-ceea-467f-a0e6-3f4e1a9c2b1\u{e9}",
    ] {
      #expect(UUID(canonical: bad) == nil, "\(bad)")
      #expect(UUID(uuidString: bad) == nil, "\(bad)")
    }
    #expect(UUID(canonical: good) == UUID(uuidString: good))
  }

  @Test("billing days parse real dates and months")
  func days() throws {
    #expect(BillingDay("2026-02-29") == nil)
    #expect(BillingDay("2028-02-29")?.description == "2028-02-29")
    let february = try #require(BillingDay.month("2026-02"))
    #expect(february.upperBound.description == "2026-02-28")
    #expect(BillingDay.month("2026-13") == nil)
  }
}
