import Foundation
import GRPCCore
import GuanceContracts
import NIOHTTP1
import PostgresNIO
import SuiteKit
import SuiteTesting
import SwiftProtobuf
import Testing

/// Operators' tool against a running suite: what it shows, what it repairs, what it refuses.
@Suite("guancectl and the gateway's admin service", .startsServices)
struct GuancectlTests {
  /// Runs guancectl against the suite's gateway; its exit status and everything it printed.
  static func guancectl(
    _ suite: SuiteHarness,
    _ arguments: String...,
    credential: String = SuiteHarness.credential
  )
    async throws -> (status: Int32, output: String)
  {
    try await Command.run(
      ServiceProcess.binaryDirectory.appendingPathComponent("guancectl").path,
      arguments,
      environment: [
        "GATEWAY_ADDRESS": suite.gateway.address, "INTERNAL_CREDENTIAL": credential,
        "PATH": "/usr/bin:/bin",
      ],
      mergingErrors: true
    )
  }

  static func json(_ output: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
  }

  @Test(
    "subscriptions: listed, shown with their history, changed by the vendor through the marketplace"
  )
  func subscriptions() async throws {
    try await SuiteHarness.with { suite in
      try await suite.connectWebhook()
      let (subscription, _) = try await suite.activatedSubscription(
        plan: "commercial-seats",
        quantity: 3,
        username: "operated"
      )

      let list = try await Self.guancectl(suite, "subscriptions", "list")
      #expect(list.status == 0)
      #expect(
        list.output.contains("SUBSCRIPTION") && list.output.contains(subscription)
          && list.output.contains("activated")
      )
      let listed = try Self.json(
        try await Self.guancectl(suite, "subscriptions", "list", "--status", "Subscribed", "--json")
          .output
      )
      #expect(
        (listed["subscriptions"] as? [[String: Any]])?.first?["subscriptionId"] as? String
          == subscription
      )
      #expect(
        try await Self.guancectl(suite, "subscriptions", "list", "--status", "Suspended").output
          .contains("(none)")
      )

      // A vendor-started change: sent, confirmed by the marketplace, then applied; progress shown.
      let change = try await Self.guancectl(
        suite,
        "subscriptions",
        "change-quantity",
        subscription,
        "7"
      )
      #expect(change.status == 0, "\(change.output)")
      #expect(
        change.output.contains("requested") && change.output.contains("[Succeeded]")
          && change.output.contains("applied")
      )
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 7)
      #expect(
        try await suite.gatewayQuery(
          "SELECT quantity FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: Int.self
        ) == 7
      )

      // Against the plan rules, or on an unknown subscription: refused, nothing sent.
      let refused = try await Self.guancectl(
        suite,
        "subscriptions",
        "change-plan",
        subscription,
        "platinum"
      )
      #expect(
        refused.status != 0 && refused.output.contains("failedPrecondition")
          && refused.output.contains("not sold by Guance")
      )
      let unknown = try await Self.guancectl(
        suite,
        "subscriptions",
        "change-quantity",
        "no-such-subscription",
        "2"
      )
      #expect(unknown.status != 0 && unknown.output.contains("notFound"))
      #expect(try await Self.guancectl(suite, "subscriptions", "cancel", subscription).status != 0)

      // Its whole story: audit trail, session, activation, the change's operation.
      let shown = try await Self.guancectl(suite, "subscriptions", "show", subscription)
      #expect(shown.status == 0)
      for expected in [
        "Activation: activated", "not_linked", "ChangeQuantity", "publisher",
        "lifecycle_changequantity", "session_opened",
      ] {
        #expect(shown.output.contains(expected), "\(expected)")
      }
      let detail = try Self.json(
        try await Self.guancectl(suite, "subscriptions", "show", subscription, "--json").output
      )
      let operations = try #require(detail["operations"] as? [[String: Any]])
      #expect(operations.count == 1 && operations.first?["state"] as? String == "applied")
      // The webhook about the same operation arrived too, and changed nothing more.
      #expect(
        try await suite.eventually {
          try await suite.lifecycleOperation(operations.first?["id"] as? String ?? "")?.deliveries
            == 2
        }
      )

      // Cancelling needs --yes, then ends the subscription for good.
      let cancelled = try await Self.guancectl(
        suite,
        "subscriptions",
        "cancel",
        subscription,
        "--yes"
      )
      #expect(cancelled.status == 0 && cancelled.output.contains("applied"))
      #expect(
        try await suite.gatewayQuery(
          "SELECT marketplace_status FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: String.self
        ) == "Unsubscribed"
      )
    }
  }

  @Test("operations and activations: listed, replayed, retried; bad input refused with the field")
  func operationsAndActivations() async throws {
    try await SuiteHarness.with { suite in
      try await suite.connectWebhook()
      let (subscription, workspace) = try await suite.activatedSubscription(username: "replayed")
      let suspend = try await suite.trigger(subscription, "Suspend")
      #expect(
        try await suite.eventually {
          try await suite.lifecycleOperation(suspend)?.state == "applied"
        }
      )

      let listed = try await Self.guancectl(
        suite,
        "operations",
        "list",
        "--subscription",
        subscription
      )
      #expect(
        listed.status == 0 && listed.output.contains(suspend) && listed.output.contains("Suspend")
      )
      // Replayed: verified again and followed again; the workspace stays suspended.
      let replayed = try await Self.guancectl(suite, "operations", "replay", suspend)
      #expect(replayed.status == 0 && replayed.output.contains("due again"))
      #expect(
        try await suite.eventually {
          try await suite.lifecycleOperation(suspend)?.state == "applied"
        }
      )
      #expect(try await suite.workspaceStatus(workspace) == .suspended)

      #expect(try await Self.guancectl(suite, "activations", "stuck").output.contains("(none)"))
      let finished = try await Self.guancectl(suite, "activations", "retry", subscription)
      #expect(
        finished.status != 0 && finished.output.contains("has finished")
          && finished.output.contains("reason ACTIVATION_FINISHED (guance.gateway.v1)")
      )
      let badState = try await Self.guancectl(suite, "operations", "list", "--state", "bogus")
      #expect(badState.status != 0 && badState.output.contains("state: must be one of"))
      let badLimit = try await Self.guancectl(suite, "metering", "list", "--limit", "5000")
      #expect(badLimit.status != 0 && badLimit.output.contains("limit"))
      let wrongCredential = try await Self.guancectl(
        suite,
        "subscriptions",
        "list",
        credential: "guess"
      )
      #expect(wrongCredential.status != 0 && wrongCredential.output.contains("credential is wrong"))
    }
  }

  @Test(
    "a failed activation is listed as stuck and, once the marketplace relents, retried to the end"
  )
  func stuckActivation() async throws {
    try await SuiteHarness.with { suite in
      let purchase = try await suite.emulator.purchase()
      // The marketplace answers Activate with a 400 once: the saga fails and waits for an operator.
      try await suite.faults(#"{"count": 1, "status": 400, "path": "activate"}"#)
      let activation = try await suite.register(token: purchase.token, username: "stuck")
      #expect(activation.state == .needsAttention)

      let stuck = try await Self.guancectl(suite, "activations", "stuck")
      #expect(
        stuck.status == 0 && stuck.output.contains(purchase.id) && stuck.output.contains("failed")
      )
      let retried = try await Self.guancectl(suite, "activations", "retry", purchase.id)
      #expect(retried.status == 0 && retried.output.contains("due now"), "\(retried.output)")
      #expect(try await suite.eventually { try await suite.activations(of: purchase.id) == 1 })
      #expect(
        try await suite.eventually {
          try await suite.gatewayQuery(
            "SELECT step FROM activation_sagas WHERE subscription_id = \(purchase.id)",
            as: String.self
          ) == "activated"
        }
      )
      #expect(try await Self.guancectl(suite, "activations", "stuck").output.contains("(none)"))
      #expect(
        try await Self.guancectl(suite, "subscriptions", "show", purchase.id).output.contains(
          "activation_retry_requested"
        )
      )
    }
  }

  @Test("metering: listed, parked, resubmitted, run by hand, reconciled")
  func metering() async throws {
    // The submitter's own passes are an hour apart here: only guancectl sends.
    try await SuiteHarness.with(
      gateway: ["METERING_INTERVAL_SECONDS": "3600"],
      usageClock: .noonToday()
    ) { suite in
      let subscriptions = try await MeteringTests.subscriptions(suite, 1, prefix: "parked")
      let (day, noon) = suite.usageClock.yesterday
      try await MeteringTests.record(
        suite,
        [
          (subscriptions[0].workspace, "log_events", "2000000"),
          (subscriptions[0].workspace, "time_series", "3000"),
        ],
        at: noon
      )
      #expect(try await MeteringTests.closeDay(suite, day) == 2)

      let pending = try Self.json(
        try await Self.guancectl(suite, "metering", "list", "--status", "pending", "--json").output
      )
      let keys = try #require(
        (pending["records"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
      )
      #expect(keys.count == 2)
      let parked = try await Self.guancectl(
        suite,
        "metering",
        "park",
        keys[0],
        "--reason",
        "credited to the customer"
      )
      #expect(parked.status == 0 && parked.output.contains("parked"))
      let run = try await Self.guancectl(suite, "metering", "run")
      #expect(run.status == 0 && run.output.contains("sent 1: 1 delivered"), "\(run.output)")
      #expect(try await MeteringTests.marketplaceUsage(suite).count == 1)

      let resubmitted = try await Self.guancectl(
        suite,
        "metering",
        "resubmit",
        keys[0],
        "--reason",
        "credit withdrawn"
      )
      #expect(resubmitted.status == 0 && resubmitted.output.contains("pending"))
      #expect(
        try await Self.guancectl(suite, "metering", "run").output.contains("sent 1: 1 delivered")
      )
      #expect(try await MeteringTests.marketplaceUsage(suite).count == 2)
      let delivered = try await Self.guancectl(
        suite,
        "metering",
        "park",
        keys[1],
        "--reason",
        "too late"
      )
      #expect(delivered.status != 0 && delivered.output.contains("already has this record"))

      let reconciled = try await Self.guancectl(
        suite,
        "metering",
        "reconcile",
        suite.usageClock.today
      )
      #expect(
        reconciled.status == 0 && reconciled.output.contains("no mismatches"),
        "\(reconciled.output)"
      )
      let badDate = try await Self.guancectl(suite, "metering", "reconcile", "yesterday")
      #expect(badDate.status != 0 && badDate.output.contains("date: must be a date"))
    }
  }
}
