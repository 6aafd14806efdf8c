import Foundation
import GRPCCore
import GuanceContracts
import NIOHTTP1
import PostgresNIO
import SuiteKit
import SuiteTesting
import SwiftProtobuf
import Testing

/// Usage recorded in the billing center, rated when its day closes, and delivered by the
/// gateway to the emulated marketplace's metering API.
@Suite("Metered billing to the marketplace", .startsServices)
struct MeteringTests {
  static let gateway = ["METERING_INTERVAL_SECONDS": "1", "METERING_RECONCILE_SECONDS": "1"]

  /// Activates `count` pay-as-you-go subscriptions, each with its workspace, whose
  /// settlements (made just now) are moved back to cover yesterday.
  static func subscriptions(
    _ suite: SuiteHarness,
    _ count: Int,
    prefix: String
  ) async throws
    -> [(subscription: String, workspace: String)]
  {
    var made: [(String, String)] = []
    for index in 0..<count {
      made.append(try await suite.activatedSubscription(username: "\(prefix)\(index)"))
    }
    try await suite.billingExecute(
      "UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days'"
    )
    return made
  }

  static func record(
    _ suite: SuiteHarness,
    _ events: [(workspace: String, item: String, quantity: String)],
    at time: Date
  )
    async throws
  {
    _ = try await suite.billingInternal { billing in
      try await billing.recordUsage(
        .with {
          $0.events = events.enumerated().map { index, event in
            .with {
              $0.idempotencyKey = "\(event.workspace)/\(event.item)/\(index)"
              $0.workspaceID = event.workspace
              $0.billingItem = event.item
              $0.quantity = event.quantity
              $0.usageTime = Google_Protobuf_Timestamp(date: time.addingTimeInterval(Double(index)))
            }
          }
        },
        metadata: SuiteHarness.internalCall
      )
    }
  }

  static func closeDay(_ suite: SuiteHarness, _ day: String) async throws -> Int {
    try await suite.billingInternal { billing in
      Int(
        try await billing.closeDay(.with { $0.day = day }, metadata: SuiteHarness.internalCall)
          .meteringRecords
      )
    }
  }

  /// The emulated marketplace's accepted usage from today on: "subscription|dimension" → (quantity, events).
  static func marketplaceUsage(_ suite: SuiteHarness) async throws -> [String: (Double, Int)] {
    let token = try await suite.marketplaceToken()
    let reply = try await suite.emulator.request(
      .GET,
      "/api/usageEvents?api-version=2018-08-31&usageStartDate=\(suite.usageClock.today)",
      token: token
    )
    var usage: [String: (Double, Int)] = [:]
    for row in reply.json as? [[String: Any]] ?? [] {
      guard let resource = row["usageResourceId"] as? String,
        let dimension = row["dimension"] as? String
      else { continue }
      usage["\(resource)|\(dimension)"] = (
        (row["submittedQuantity"] as? NSNumber)?.doubleValue ?? -1,
        (row["submittedCount"] as? NSNumber)?.intValue ?? -1
      )
    }
    return usage
  }

  static func records(
    _ suite: SuiteHarness,
    _ status: Guance_Billing_V1_MeteringRecordStatus
  ) async throws
    -> [Guance_Billing_V1_MeteringRecord]
  {
    try await suite.billingInternal { billing in
      try await billing.listMeteringRecords(
        .with {
          $0.status = status
          $0.limit = 1000
        },
        metadata: SuiteHarness.internalCall
      ).records
    }
  }

  @Test(
    "a day of usage of several subscriptions reaches the marketplace with exact totals; suspended usage never does"
  )
  func dayOfUsage() async throws {
    try await SuiteHarness.with(gateway: Self.gateway, usageClock: .noonToday()) { suite in
      try await suite.connectWebhook()
      let subscriptions = try await Self.subscriptions(suite, 3, prefix: "meter")
      let (a, b, suspended) = (subscriptions[0], subscriptions[1], subscriptions[2])
      // The third subscription is suspended (through the webhook), from before yesterday on.
      try await suite.trigger(suspended.subscription, "Suspend")
      #expect(
        try await suite.eventually {
          try await suite.workspaceStatus(suspended.workspace) == .suspended
        }
      )
      try await suite.billingExecute(
        "UPDATE subscription_suspensions SET suspended_from = suspended_from - interval '3 days'"
      )

      let (day, noon) = suite.usageClock.yesterday
      try await Self.record(
        suite,
        [
          (a.workspace, "log_events", "1500000"), (a.workspace, "log_events", "500000"),
          (a.workspace, "time_series", "2500"), (b.workspace, "log_events", "3000000"),
          (b.workspace, "trace_spans", "250000"), (suspended.workspace, "log_events", "7000000"),
        ],
        at: noon
      )
      #expect(try await Self.closeDay(suite, day) == 4)

      let expected: [String: Double] = [
        "\(a.subscription)|log_events": 2, "\(a.subscription)|time_series": 2.5,
        "\(b.subscription)|log_events": 3, "\(b.subscription)|trace_spans": 0.25,
      ]
      #expect(try await suite.eventually { try await Self.marketplaceUsage(suite).count == 4 })
      let usage = try await Self.marketplaceUsage(suite)
      #expect(usage.mapValues(\.0) == expected)
      #expect(usage.values.allSatisfy { $0.1 == 1 })
      #expect(try await suite.eventually { try await Self.records(suite, .accepted).count == 4 })
      #expect(try await Self.records(suite, .pending).isEmpty)

      // Reconciliation agrees with the marketplace... until the marketplace has usage we never
      // sent (here: posted behind the gateway's back), which it reports.
      #expect(!suite.gateway.log.contains("delivered usage and the marketplace's record differ"))
      let token = try await suite.marketplaceToken()
      let stray = Date(
        timeIntervalSince1970: (suite.usageClock.now().timeIntervalSince1970 / 3600).rounded(.down)
          * 3600 - 3600
      )
      let reply = try await suite.emulator.request(
        .POST,
        "/api/usageEvent?api-version=2018-08-31",
        token: token,
        body:
          #"{"resourceId": "\#(b.subscription)", "dimension": "rum_page_views", "quantity": 1, "planId": "commercial", "effectiveStartTime": "\#(stray.formatted(.iso8601))"}"#
      )
      #expect(reply.status == 200)
      #expect(
        try await suite.eventually {
          suite.gateway.log.contains("delivered usage and the marketplace's record differ")
        }
      )
    }
  }

  @Test(
    "refusals are kept per record with the marketplace's reason, never retried as if undelivered"
  )
  func refusals() async throws {
    try await SuiteHarness.with(gateway: Self.gateway, usageClock: .noonToday()) { suite in
      let subscriptions = try await Self.subscriptions(suite, 2, prefix: "refused")
      try await suite.billingExecute(
        "UPDATE workspace_bindings SET valid_from = valid_from - interval '2 days'"
      )
      let (day, noon) = suite.usageClock.yesterday
      // Usage of three days ago, billed late: its hour is past the marketplace's 24 hours.
      let old = noon.addingTimeInterval(-2 * 86400)
      try await Self.record(suite, [(subscriptions[0].workspace, "log_events", "1000000")], at: old)
      // Cancelled at the marketplace before the day is billed: the marketplace refuses its usage.
      try await Self.record(
        suite,
        [(subscriptions[1].workspace, "log_events", "1000000")],
        at: noon
      )
      try await suite.trigger(subscriptions[1].subscription, "Unsubscribe")
      let oldDay = UsageClock.day(of: old)
      #expect(try await Self.closeDay(suite, oldDay) == 1)
      #expect(try await Self.closeDay(suite, day) == 1)
      #expect(try await suite.eventually { try await Self.records(suite, .rejected).count == 2 })
      let rejected = Dictionary(
        uniqueKeysWithValues: try await Self.records(suite, .rejected).map {
          ($0.marketplaceSubscriptionID, $0)
        }
      )
      #expect(rejected[subscriptions[0].subscription]?.marketplaceStatus == "Expired")
      #expect(rejected[subscriptions[1].subscription]?.marketplaceStatus == "ResourceNotActive")
      #expect(rejected[subscriptions[1].subscription]?.lastMessage.contains("Unsubscribed") == true)
      #expect(rejected.values.allSatisfy { $0.attempts == 1 })
      #expect(try await Self.marketplaceUsage(suite).isEmpty)
    }
  }

  @Test("a batch the marketplace refuses whole is sent record by record, and nothing is held back")
  func wholeBatchRefused() async throws {
    try await SuiteHarness.with(gateway: Self.gateway, usageClock: .noonToday()) { suite in
      let subscriptions = try await Self.subscriptions(suite, 1, prefix: "split")
      let (day, noon) = suite.usageClock.yesterday
      try await Self.record(
        suite,
        ["log_events", "time_series", "trace_spans"].map {
          (subscriptions[0].workspace, $0, "1000000")
        },
        at: noon
      )
      try await suite.faults(#"{"count": 1, "status": 400, "path": "batchUsageEvent"}"#)
      #expect(try await Self.closeDay(suite, day) == 3)
      #expect(try await suite.eventually { try await Self.records(suite, .accepted).count == 3 })
      #expect(try await Self.marketplaceUsage(suite).count == 3)
      #expect(suite.gateway.log.contains("refused a whole batch; sending its records one by one"))
    }
  }

  @Test(
    "an unreachable marketplace leaves records pending with their keys, raises the deadline alarm, then delivers"
  )
  func deadlineAlarm() async throws {
    // A margin of 24 hours: every undelivered record is "near the cutoff".
    try await SuiteHarness.with(
      gateway: Self.gateway.merging(["METERING_DEADLINE_MARGIN_SECONDS": "86400"]) { $1 },
      usageClock: .noonToday()
    ) {
      suite in
      let subscriptions = try await Self.subscriptions(suite, 1, prefix: "late")
      let (day, noon) = suite.usageClock.yesterday
      try await Self.record(
        suite,
        [(subscriptions[0].workspace, "log_events", "4000000")],
        at: noon
      )
      try await suite.faults(#"{"count": 1000, "status": 503, "path": "batchUsageEvent"}"#)
      #expect(try await Self.closeDay(suite, day) == 1)
      #expect(
        try await suite.eventually {
          suite.gateway.log.contains("near the marketplace's 24-hour cutoff")
        }
      )
      #expect(
        try await suite.eventually {
          try await Self.records(suite, .pending).first?.attempts ?? 0 >= 2
        }
      )
      #expect(try await Self.marketplaceUsage(suite).isEmpty)

      try await suite.faults(#"{"count": 0}"#)
      #expect(try await suite.eventually { try await Self.records(suite, .accepted).count == 1 })
      #expect(
        try await Self.marketplaceUsage(suite)["\(subscriptions[0].subscription)|log_events"]?.0
          == 4
      )
    }
  }

  @Test(
    "a submitter killed after the marketplace took a batch, before recording it, bills each hour exactly once"
  )
  func killedMidBatch() async throws {
    // The gateway waits for the marketplace's answer longer than the test takes to kill it (a
    // 2 s deadline would let it give up and send again first, on a slow machine); the lease
    // follows from the deadlines (3 × 60 × 4 + 60 + 5 s).
    let patient = Self.gateway.merging([
      "MARKETPLACE_TIMEOUT_SECONDS": "60", "ACTIVATION_LEASE_SECONDS": "785",
    ]) { $1 }
    try await SuiteHarness.with(gateway: patient, usageClock: .noonToday()) { suite in
      // 5 subscriptions × 6 dimensions = 30 records: two marketplace calls of 25 and 5.
      let subscriptions = try await Self.subscriptions(suite, 5, prefix: "killed")
      let items = [
        "log_events", "time_series", "trace_spans", "rum_page_views", "session_replays", "triggers",
      ]
      let (day, noon) = suite.usageClock.yesterday
      try await Self.record(
        suite,
        subscriptions.flatMap { subscription in
          items.map { (subscription.workspace, $0, "1000000") }
        },
        at: noon
      )
      // The marketplace takes the first batch and holds its answer back until the next plan.
      try await suite.faults(#"{"count": 1, "holdAnswer": true, "path": "batchUsageEvent"}"#)
      #expect(try await Self.closeDay(suite, day) == 30)
      #expect(try await suite.eventually { try await Self.marketplaceUsage(suite).count == 25 })
      // The gateway dies waiting for that answer: the marketplace has 25 events, the billing
      // center still has all 30 records pending.
      try await suite.crashAndRestartGateway {
        #expect(try await Self.records(suite, .pending).count == 30)
        // The held answer goes out, to a connection that died with the gateway.
        try await suite.faults(#"{"count": 0}"#)
      }

      #expect(try await suite.eventually { try await Self.records(suite, .pending).isEmpty })
      let delivered = try await Self.records(suite, .unspecified)
      #expect(
        delivered.count == 30
          && delivered.allSatisfy { $0.status == .accepted || $0.status == .duplicate }
      )
      #expect(delivered.filter { $0.status == .duplicate }.count == 25)
      let usage = try await Self.marketplaceUsage(suite)
      #expect(usage.count == 30)
      #expect(usage.values.allSatisfy { $0.0 > 0 && $0.1 == 1 })
      // Every dimension's unit is its catalog unit: 1,000,000 items in each.
      #expect(usage["\(subscriptions[0].subscription)|log_events"]?.0 == 1)
      #expect(usage["\(subscriptions[0].subscription)|time_series"]?.0 == 1000)
    }
  }
}
