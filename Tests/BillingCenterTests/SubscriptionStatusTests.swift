import Foundation
import GRPCCore
import GuanceContracts
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@testable import BillingCenter

@Suite("Marketplace subscription status and operator dispositions")
struct SubscriptionStatusTests {
  func setStatus(
    _ fixture: BillingFixture,
    _ status: Guance_Billing_V1_CloudSubscriptionStatus,
    at: Date? = nil,
    subscription: String = "sub-1"
  ) async throws -> Guance_Billing_V1_SetSubscriptionStatusResponse {
    try await fixture.internalAPI.setSubscriptionStatus(
      .with {
        $0.marketplaceSubscriptionID = subscription
        $0.status = status
        if let at { $0.effectiveAt = Google_Protobuf_Timestamp(date: at) }
      },
      metadata: BillingFixture.internalCall
    )
  }

  /// A billing account with one cloud-settled workspace whose binding covers the last 3 days.
  func cloudSettledWorkspace(
    _ fixture: BillingFixture
  ) async throws -> (account: String, workspace: String) {
    let acme = try await fixture.register()
    try await fixture.link(acme)
    let workspace = try await fixture.workspace()
    try await fixture.bind(workspace.id, to: acme.id, settlement: BillingFixture.cloud())
    try await fixture.database.query(
      "UPDATE workspace_bindings SET valid_from = valid_from - interval '3 days'"
    )
    return (acme.id, workspace.id)
  }

  @Test("usage while suspended is on the bill unbilled and never metered; reinstated usage is")
  func suspension() async throws {
    try await BillingFixture.with { fixture in
      let (day, noon) = UsageAndBillTests.twoDaysAgo
      let (account, workspace) = try await cloudSettledWorkspace(fixture)

      let suspended = try await setStatus(fixture, .suspended, at: noon.addingTimeInterval(-3600))
      #expect(suspended.changed && suspended.status == .suspended)
      #expect(suspended.workspaceIds == [workspace])
      // The same status again changes nothing and still names the workspace.
      let again = try await setStatus(fixture, .suspended, at: noon)
      #expect(!again.changed && again.workspaceIds == [workspace])
      #expect(try await setStatus(fixture, .active, at: noon.addingTimeInterval(3600)).changed)

      _ = try await fixture.internalAPI.recordUsage(
        .with {
          $0.events = [
            BillingFixture.event(
              "while-suspended",
              workspace: workspace,
              quantity: "1000000",
              at: noon
            ),
            BillingFixture.event(
              "after",
              workspace: workspace,
              quantity: "3000000",
              at: noon.addingTimeInterval(7200)
            ),
          ]
        },
        metadata: BillingFixture.internalCall
      )
      _ = try await fixture.internalAPI.closeDay(
        .with { $0.day = day.description },
        metadata: BillingFixture.internalCall
      )

      let bill = try await fixture.center.getDailyBill(
        .with {
          $0.billingAccountID = account
          $0.day = day.description
        },
        metadata: BillingFixture.internalCall
      ).bill
      let unbilled = bill.lines.filter { $0.unbilledReason == "subscription_suspended" }
      #expect(unbilled.map(\.quantity) == ["1000000"])
      #expect(unbilled.allSatisfy { $0.amount.micros == 0 })
      #expect(bill.total.micros == 3_600_000)
      let records = try await fixture.internalAPI.listPendingMeteringRecords(
        .init(),
        metadata: BillingFixture.internalCall
      )
      .records
      #expect(records.map(\.quantity) == ["3"])
    }
  }

  @Test("unsubscribing ends the cloud settlement, once; later usage is kept unbound")
  func unsubscription() async throws {
    try await BillingFixture.with { fixture in
      let (account, workspace) = try await cloudSettledWorkspace(fixture)
      let ended = try await setStatus(fixture, .unsubscribed)
      #expect(ended.changed && ended.workspaceIds == [workspace])
      #expect(try await fixture.count("workspace_bindings", where: "valid_to IS NULL") == 0)
      // Repeated (a redelivered webhook), and any status after it: nothing changes, and the
      // workspaces whose settlement ended are named again so the caller can finish its part.
      for status in [Guance_Billing_V1_CloudSubscriptionStatus.unsubscribed, .active] {
        let repeated = try await setStatus(fixture, status)
        #expect(
          !repeated.changed && repeated.status == .unsubscribed
            && repeated.workspaceIds == [workspace]
        )
      }
      // A cancelled subscription pays for nothing more: neither a new binding through it nor a
      // change of settlement to it.
      let rebind = try await #require(throws: RPCError.self) {
        try await fixture.bind(workspace, to: account, settlement: BillingFixture.cloud())
      }
      #expect(rebind.code == .failedPrecondition && rebind.message.contains("cancelled"))
      let other = try await fixture.workspace("Other", owner: "bob")
      try await fixture.bind(other.id, to: account)
      let change = try await #require(throws: RPCError.self) {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.billingAccountID = account
            $0.workspaceID = other.id
            $0.settlement = BillingFixture.cloud()
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(change.code == .failedPrecondition && change.message.contains("cancelled"))
      #expect(
        try await fixture.count(
          "workspace_bindings",
          where: "valid_to IS NULL AND settlement = 'cloud_account'"
        ) == 0
      )
    }
  }

  @Test("bad subscription status requests are refused and change nothing")
  func refusals() async throws {
    try await BillingFixture.with { fixture in
      _ = try await cloudSettledWorkspace(fixture)
      let unknown = try await #require(throws: RPCError.self) {
        try await setStatus(fixture, .suspended, subscription: "sub-unknown")
      }
      #expect(unknown.code == .notFound)
      let unspecified = try await #require(throws: RPCError.self) {
        try await setStatus(fixture, .unspecified)
      }
      #expect(unspecified.code == .invalidArgument)
      let future = try await #require(throws: RPCError.self) {
        try await setStatus(fixture, .suspended, at: Date().addingTimeInterval(86400))
      }
      #expect(future.code == .invalidArgument)
      #expect(try await fixture.count("subscription_suspensions") == 0)
    }
  }

  @Test(
    "operators list records by status and day, park and resubmit them; delivered ones are final"
  )
  func dispositions() async throws {
    try await BillingFixture.with { fixture in
      let (day, noon) = UsageAndBillTests.twoDaysAgo
      let (_, workspace) = try await cloudSettledWorkspace(fixture)
      _ = try await fixture.internalAPI.recordUsage(
        .with {
          $0.events = [
            BillingFixture.event("a", workspace: workspace, quantity: "1000000", at: noon),
            BillingFixture.event(
              "b",
              workspace: workspace,
              item: "time_series",
              quantity: "1000",
              at: noon
            ),
          ]
        },
        metadata: BillingFixture.internalCall
      )
      _ = try await fixture.internalAPI.closeDay(
        .with { $0.day = day.description },
        metadata: BillingFixture.internalCall
      )
      func list(
        _ status: Guance_Billing_V1_MeteringRecordStatus,
        day: String = ""
      ) async throws
        -> [Guance_Billing_V1_MeteringRecord]
      {
        try await fixture.internalAPI.listMeteringRecords(
          .with {
            $0.status = status
            $0.day = day
          },
          metadata: BillingFixture.internalCall
        ).records
      }
      func dispose(
        _ key: String,
        _ disposition: Guance_Billing_V1_MeteringDisposition
      ) async throws
        -> Guance_Billing_V1_MeteringRecord
      {
        try await fixture.internalAPI.setMeteringRecordDisposition(
          .with {
            $0.key = key
            $0.disposition = disposition
            $0.reason = "credited to the customer"
          },
          metadata: BillingFixture.internalCall
        ).record
      }
      let all = try await list(.unspecified, day: day.description)
      #expect(
        all.count == 2 && all.allSatisfy { $0.status == .pending && $0.day == day.description }
      )
      #expect(try await list(.unspecified, day: "2001-01-01").isEmpty)

      let parked = try await dispose(all[0].key, .park)
      #expect(parked.status == .parked && parked.lastMessage == "credited to the customer")
      #expect(try await list(.pending).map(\.key) == [all[1].key])
      #expect(try await dispose(all[0].key, .park).status == .parked)
      #expect(try await dispose(all[0].key, .resubmit).status == .pending)

      _ = try await fixture.internalAPI.acknowledgeMeteringRecords(
        .with {
          $0.acknowledgements = [
            .with {
              $0.key = all[1].key
              $0.outcome = .accepted
              $0.marketplaceStatus = "Accepted"
            }
          ]
        },
        metadata: BillingFixture.internalCall
      )
      let delivered = try await #require(throws: RPCError.self) {
        try await dispose(all[1].key, .park)
      }
      #expect(delivered.code == .failedPrecondition)
      // Parked while a submission was under way, then accepted by the marketplace: it is billed,
      // so it is delivered.
      _ = try await dispose(all[0].key, .park)
      _ = try await fixture.internalAPI.acknowledgeMeteringRecords(
        .with {
          $0.acknowledgements = [
            .with {
              $0.key = all[0].key
              $0.outcome = .duplicate
              $0.marketplaceStatus = "Duplicate"
            }
          ]
        },
        metadata: BillingFixture.internalCall
      )
      #expect(try await list(.duplicate).map(\.key) == [all[0].key])
      let missing = try await #require(throws: RPCError.self) {
        try await dispose("no/such/key", .resubmit)
      }
      #expect(missing.code == .notFound)
      let bad = try await #require(throws: RPCError.self) {
        try await list(.unspecified, day: "yesterday")
      }
      #expect(bad.code == .invalidArgument)
      #expect(try await list(.accepted).map(\.marketplaceStatus) == ["Accepted"])
    }
  }
}
