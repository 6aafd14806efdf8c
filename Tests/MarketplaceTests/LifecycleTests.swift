import AsyncHTTPClient
import Foundation
import GRPCCore
import GuanceContracts
import SwiftProtobuf
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PostgresNIO
import SuiteTesting
import Testing

/// Subscriptions after activation: every marketplace event, triggered at the emulator and
/// delivered to the gateway's webhook, observed in the console, the billing center and the
/// gateway.
@Suite("Subscription lifecycle")
struct LifecycleTests {
  @Test("plan and quantity changes, renewal, suspension, reinstatement and cancellation are followed")
  func everyAction() async throws {
    // Guance sells at most 50 seats in this test, fewer than the marketplace allows.
    try await SuiteHarness.with(gateway: ["MARKETPLACE_PLANS": "commercial,commercial-seats:1-50"]) { suite in
      try await suite.connectWebhook()
      let (subscription, workspace) = try await suite.activatedSubscription(
        plan: "commercial-seats", quantity: 3, username: "lifecycle")
      func done(_ operation: String) async throws -> (state: String, outcome: String?, deliveries: Int)? {
        _ = try await suite.eventually { try await suite.lifecycleOperation(operation).map { $0.state != "received" } ?? false }
        return try await suite.lifecycleOperation(operation)
      }

      // ChangeQuantity within the plan's seats: accepted (PATCH Success) well before the
      // marketplace's own 10-second auto-accept.
      let started = ContinuousClock.now
      let more = try await suite.trigger(subscription, "ChangeQuantity", quantity: 5)
      #expect(try await done(more)?.state == "applied")
      #expect(ContinuousClock.now - started < .seconds(8))
      #expect(try await suite.marketplaceOperation(subscription, more)["status"] as? String == "Succeeded")
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 5)
      #expect(try await suite.gatewayQuery("SELECT quantity FROM marketplace_subscriptions WHERE id = \(subscription)", as: Int.self) == 5)

      // Beyond the plan's 50 seats: declined (PATCH Failure); nothing changes.
      let tooMany = try await suite.trigger(subscription, "ChangeQuantity", quantity: 100)
      let declined = try await done(tooMany)
      #expect(declined?.state == "declined")
      #expect(declined?.outcome?.contains("outside plan commercial-seats") == true)
      #expect(try await suite.marketplaceOperation(subscription, tooMany)["status"] as? String == "Failed")
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 5)

      // ChangePlan to a plan Guance sells: accepted.
      let plan = try await suite.trigger(subscription, "ChangePlan", plan: "commercial")
      #expect(try await done(plan)?.state == "applied")
      #expect(try await suite.gatewayQuery("SELECT plan_id FROM marketplace_subscriptions WHERE id = \(subscription)", as: String.self) == "commercial")

      // Renew: the term rolls on; the gateway records the marketplace's new dates.
      let renew = try await suite.trigger(subscription, "Renew")
      #expect(try await done(renew)?.state == "applied")
      let termEnd = try #require(try await suite.marketplaceSubscription(subscription)["term"] as? [String: Any])["endDate"] as? String
      let recordedEnd = try await suite.gatewayQuery(
        "SELECT to_char(term_end AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM marketplace_subscriptions WHERE id = \(subscription)",
        as: String.self)
      #expect(termEnd?.hasPrefix(recordedEnd ?? "-") == true)

      // Suspend: the workspace settled through it is suspended in the console.
      let suspend = try await suite.trigger(subscription, "Suspend")
      #expect(try await done(suspend)?.state == "applied")
      #expect(try await suite.workspaceStatus(workspace) == .suspended)
      #expect(try await suite.gatewayQuery("SELECT marketplace_status FROM marketplace_subscriptions WHERE id = \(subscription)", as: String.self) == "Suspended")

      // Reinstate: acknowledged (PATCH Success), the workspace is active again.
      let reinstate = try await suite.trigger(subscription, "Reinstate")
      #expect(try await done(reinstate)?.state == "applied")
      #expect(try await suite.marketplaceSubscription(subscription)["saasSubscriptionStatus"] as? String == "Subscribed")
      #expect(try await suite.workspaceStatus(workspace) == .active)

      // Unsubscribe: cloud settlement ends, the workspace is flagged, data kept 7+ days.
      let unsubscribe = try await suite.trigger(subscription, "Unsubscribe")
      #expect(try await done(unsubscribe)?.state == "applied")
      #expect(try await suite.workspaceStatus(workspace) == .suspended)
      let keptDays = try await suite.gatewayQuery(
        "SELECT floor(EXTRACT(EPOCH FROM data_kept_until - now()) / 86400)::int FROM marketplace_subscriptions WHERE id = \(subscription)",
        as: Int.self)
      #expect((keptDays ?? 0) >= 7)
      let bindings = try await suite.billingClient { billing in
        let session = try await billing.login(.with {
          $0.login = "lifecycle"
          $0.password = "correct horse battery"
        })
        return try await billing.listBoundWorkspaces(
          .with { $0.billingAccountID = session.billingAccount.id },
          metadata: ["authorization": "Bearer \(session.sessionToken)"]
        ).bindings
      }
      #expect(bindings.isEmpty)

      // Every operation is in the subscription's audit trail, once.
      let audited = try await suite.gatewayQuery(
        "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event LIKE 'lifecycle_%'",
        as: Int.self)
      #expect(audited == 7)
    }
  }
}
