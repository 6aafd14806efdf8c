import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SuiteTesting
import Testing

@testable import MarketplaceClient

@Suite("The gateway's marketplace client", .startsServices)
struct MarketplaceClientTests {
  static func fault(_ emulator: EmulatorProcess, _ json: String) async throws {
    #expect(try await emulator.request(.POST, "/admin/faults", body: json).status == 204)
  }

  @Test("resolves, activates once and reads subscriptions, reusing one token")
  func happyPath() async throws {
    try await EmulatorProcess.with { emulator in
      let client = emulator.client()
      let purchase = try await emulator.purchase(#"{"planId": "commercial-seats", "quantity": 2}"#)
      let resolved = try await client.resolve(token: purchase.token)
      #expect(resolved.subscriptionID == purchase.id)
      #expect(resolved.quantity == 2)
      #expect(resolved.subscription.status == .pendingFulfillmentStart)
      try await client.activate(
        subscriptionID: purchase.id,
        planID: resolved.planID,
        quantity: resolved.quantity
      )
      #expect(try await client.subscription(id: purchase.id).status == .subscribed)
      // A repeated Activate is refused by the marketplace, never billed twice.
      await #expect(throws: MarketplaceError.self) {
        try await client.activate(subscriptionID: purchase.id, planID: resolved.planID, quantity: 2)
      }
      #expect(try await client.allSubscriptions().map(\.id) == [purchase.id])
      #expect(await client.tokensFetched == 1)
    }
  }

  @Test(
    "a marketplace answering 500, then recovering, is retried; a hang hits the deadline and is retried"
  )
  func faults() async throws {
    try await EmulatorProcess.with { emulator in
      let client = emulator.client()
      let purchase = try await emulator.purchase()
      try await Self.fault(emulator, #"{"count": 2, "status": 500}"#)
      #expect(try await client.resolve(token: purchase.token).subscriptionID == purchase.id)
      // The first call's answer is held until the next plan: it outlasts any deadline.
      try await Self.fault(emulator, #"{"count": 1, "holdAnswer": true}"#)
      #expect(try await client.subscription(id: purchase.id).id == purchase.id)
      // A token no HTTP client may send is refused at once, not retried as an outage.
      await #expect(
        throws: MarketplaceError.badRequest(
          code: "InvalidHeaderValue",
          message: "x-ms-marketplace-token holds a control character"
        )
      ) {
        try await client.resolve(token: "abc\r\ndef")
      }
      try await Self.fault(emulator, #"{"count": 10, "status": 503}"#)
      await #expect(throws: MarketplaceError.unavailable(status: 503, message: "injected fault")) {
        try await client.subscription(id: purchase.id)
      }
    }
  }

  @Test("changes return the operation to poll; metering verdicts come per event")
  func operationsAndMetering() async throws {
    try await EmulatorProcess.with { emulator in
      let client = emulator.client()
      let purchase = try await emulator.purchase(#"{"planId": "commercial-seats", "quantity": 2}"#)
      try await client.activate(
        subscriptionID: purchase.id,
        planID: "commercial-seats",
        quantity: 2
      )
      let operation = try await client.changeQuantity(subscriptionID: purchase.id, to: 3)
      let polled = try await client.operation(subscriptionID: purchase.id, operationID: operation)
      #expect(polled.status == "Succeeded")
      #expect(polled.quantity == 3)

      let hour = Date().addingTimeInterval(-1800)
      let results = try await client.recordUsage([
        .init(
          resourceID: purchase.id,
          dimension: "log_events",
          quantity: 2,
          effectiveStartTime: hour,
          planID: "commercial-seats"
        ),
        .init(
          resourceID: purchase.id,
          dimension: "log_events",
          quantity: 5,
          effectiveStartTime: hour,
          planID: "commercial-seats"
        ),
        .init(
          resourceID: purchase.id,
          dimension: "nope",
          quantity: 1,
          effectiveStartTime: hour,
          planID: "commercial-seats"
        ),
      ])
      #expect(results.map(\.status) == ["Accepted", "Duplicate", "InvalidDimension"])
      #expect(results.map(\.isDelivered) == [true, true, false])
    }
  }

  @Test("a wrong secret is refused clearly")
  func wrongSecret() async throws {
    try await EmulatorProcess.with { emulator in
      await #expect(throws: MarketplaceError.self) {
        try await emulator.client(secret: "guess").subscription(id: UUID().uuidString)
      }
    }
  }

  @Test("parsing is lenient where the marketplace is loose")
  func leniency() throws {
    let json = #"""
      {"id": "ABC", "planId": "gold", "quantity": "", "saasSubscriptionStatus": " Subscribed ",
       "term": {"termUnit": "PAY", "startDate": "2022-03-04T00:00:00"}, "somethingNew": [1, 2],
       "purchaser": {"emailId": "a@b.c", "objectId": "OBJ", "tenantId": "TEN"}}
      """#
    let subscription = try MarketplaceParsing.subscription(
      MarketplaceParsing.object(Data(json.utf8))
    )
    #expect(subscription.id == "abc")
    #expect(subscription.quantity == nil)
    #expect(subscription.status == .subscribed)
    #expect(subscription.termUnit == "PAY")
    #expect(subscription.termStart != nil)
    #expect(subscription.purchaser.objectID == "obj")
    for (raw, expected) in [
      (#"{"quantity": "20"}"#, 20), (#"{"quantity": 7}"#, 7), (#"{"quantity": " 3 "}"#, 3),
    ] {
      #expect(
        MarketplaceParsing.quantity(try MarketplaceParsing.object(Data(raw.utf8))) == expected
      )
    }
    #expect(
      MarketplaceParsing.quantity(try MarketplaceParsing.object(Data(#"{"quantity": null}"#.utf8)))
        == nil
    )
    #expect(MarketplaceSubscriptionStatus("Migrating") == .other("Migrating"))
  }
}
