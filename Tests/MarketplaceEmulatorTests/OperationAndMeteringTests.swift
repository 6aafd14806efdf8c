import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SuiteTesting
import Testing

@Suite("Emulated operations and metering", .startsServices)
struct OperationAndMeteringTests {
  @Test("publisher changes answer 202 with an operation to poll, and take effect")
  func publisherChanges() async throws {
    try await EmulatorProcess.with { emulator in
      let token = try await emulator.accessToken()
      let id = try await emulator.activated(
        token: token,
        plan: "commercial-seats",
        quantity: 3
      )
      let path = "/api/saas/subscriptions/\(id)?api-version=2018-08-31"
      let both = try await emulator.request(
        .PATCH,
        path,
        token: token,
        body: #"{"planId": "commercial", "quantity": 4}"#
      )
      #expect(both.status == 400)
      let change = try await emulator.request(.PATCH, path, token: token, body: #"{"quantity": 7}"#)
      #expect(change.status == 202)
      let location = try #require(change.headers.first(name: "Operation-Location"))
      let operation = try #require(
        try await emulator.request(.GET, location, token: token).json as? [String: Any]
      )
      #expect(operation["status"] as? String == "Succeeded")
      #expect(operation["action"] as? String == "ChangeQuantity")
      #expect(try await emulator.subscription(id, token: token)["quantity"] as? Int == 7)
      #expect(
        try await emulator.request(.PATCH, path, token: token, body: #"{"quantity": 7}"#).status
          == 400
      )

      #expect(try await emulator.request(.DELETE, path, token: token).status == 202)
      #expect(
        try await emulator.subscription(id, token: token)["saasSubscriptionStatus"] as? String
          == "Unsubscribed"
      )
      #expect(try await emulator.request(.DELETE, path, token: token).status == 404)
    }
  }

  @Test(
    "marketplace events need acknowledgement where the contract says, and a superseded one conflicts"
  )
  func acknowledgements() async throws {
    try await EmulatorProcess.with { emulator in
      let token = try await emulator.accessToken()
      let id = try await emulator.activated(
        token: token,
        plan: "commercial-seats",
        quantity: 3
      )
      func trigger(_ body: String) async throws -> String {
        let reply = try await emulator.request(
          .POST,
          "/admin/subscriptions/\(id)/events",
          body: body
        )
        #expect(reply.status == 201)
        return try #require((reply.json as? [String: Any])?["id"] as? String)
      }
      let first = try await trigger(#"{"action": "ChangeQuantity", "quantity": 5}"#)
      let second = try await trigger(#"{"action": "ChangeQuantity", "quantity": 6}"#)
      let outstanding = try await emulator.request(
        .GET,
        "/api/saas/subscriptions/\(id)/operations?api-version=2018-08-31",
        token: token
      )
      #expect(((outstanding.json as? [String: Any])?["operations"] as? [Any])?.count == 2)
      func acknowledge(_ operation: String, _ status: String) async throws -> Int {
        try await emulator.request(
          .PATCH,
          "/api/saas/subscriptions/\(id)/operations/\(operation)?api-version=2018-08-31",
          token: token,
          body: #"{"status": "\#(status)"}"#
        ).status
      }
      #expect(try await acknowledge(second, "Success") == 200)
      #expect(try await acknowledge(first, "Success") == 409)
      #expect(try await emulator.subscription(id, token: token)["quantity"] as? Int == 6)

      _ = try await trigger(#"{"action": "Suspend"}"#)
      #expect(
        try await emulator.subscription(id, token: token)["saasSubscriptionStatus"] as? String
          == "Suspended"
      )
      let blocked = try await emulator.request(
        .POST,
        "/admin/subscriptions/\(id)/events",
        body: #"{"action": "Renew"}"#
      )
      #expect(blocked.status == 400)
      let reinstate = try await trigger(#"{"action": "Reinstate"}"#)
      #expect(try await acknowledge(reinstate, "Failure") == 200)
      #expect(
        try await emulator.subscription(id, token: token)["saasSubscriptionStatus"] as? String
          == "Suspended"
      )
      let again = try await trigger(#"{"action": "Reinstate"}"#)
      #expect(try await acknowledge(again, "Success") == 200)
      #expect(
        try await emulator.subscription(id, token: token)["saasSubscriptionStatus"] as? String
          == "Subscribed"
      )
    }
  }

  @Test("metering takes one event per resource, dimension and hour, within 24 hours")
  func metering() async throws {
    try await EmulatorProcess.with { emulator in
      let token = try await emulator.accessToken()
      let id = try await emulator.activated(token: token)
      let hour = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-3600))
      let old = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-30 * 3600))
      func event(
        _ dimension: String,
        _ quantity: Double,
        _ time: String,
        resource: String? = nil
      ) -> String {
        #"{"resourceId": "\#(resource ?? id)", "quantity": \#(quantity), "dimension": "\#(dimension)", "effectiveStartTime": "\#(time)", "planId": "commercial"}"#
      }
      let single = try await emulator.request(
        .POST,
        "/api/usageEvent?api-version=2018-08-31",
        token: token,
        body: event("log_events", 2.5, hour)
      )
      #expect(single.status == 200)
      #expect((single.json as? [String: Any])?["status"] as? String == "Accepted")
      let duplicate = try await emulator.request(
        .POST,
        "/api/usageEvent?api-version=2018-08-31",
        token: token,
        body: event("log_events", 9, hour)
      )
      #expect(duplicate.status == 409)
      let accepted =
        ((duplicate.json as? [String: Any])?["additionalInfo"] as? [String: Any])?[
          "acceptedMessage"
        ] as? [String: Any]
      #expect(accepted?["status"] as? String == "Duplicate")
      #expect(accepted?["quantity"] as? Double == 2.5)
      // The same hour written with fractional seconds, or without a zone (UTC), is the same event.
      for sameHour in [String(hour.dropLast()) + ".250Z", String(hour.dropLast())] {
        let again = try await emulator.request(
          .POST,
          "/api/usageEvent?api-version=2018-08-31",
          token: token,
          body: event("log_events", 1, sameHour)
        )
        #expect(again.status == 409, "\(sameHour)")
      }

      let tooMany =
        "{\"request\": [\(Array(repeating: event("triggers", 1, hour), count: 26).joined(separator: ","))]}"
      #expect(
        try await emulator.request(
          .POST,
          "/api/batchUsageEvent?api-version=2018-08-31",
          token: token,
          body: tooMany
        ).status == 400
      )
      let batch =
        "{\"request\": [\([event("time_series", 4, hour), event("gold", 1, hour), event("trace_spans", 1, old), event("triggers", 0, hour), event("triggers", 1, hour, resource: UUID().uuidString)].joined(separator: ","))]}"
      let reply = try await emulator.request(
        .POST,
        "/api/batchUsageEvent?api-version=2018-08-31",
        token: token,
        body: batch
      )
      #expect(reply.status == 200)
      let statuses = ((reply.json as? [String: Any])?["result"] as? [[String: Any]])?.compactMap {
        $0["status"] as? String
      }
      #expect(
        statuses == [
          "Accepted", "InvalidDimension", "Expired", "InvalidQuantity", "ResourceNotFound",
        ]
      )

      let day = String(hour.prefix(10))
      let usage = try await emulator.request(
        .GET,
        "/api/usageEvents?api-version=2018-08-31&usageStartDate=\(day)T00:00:00Z",
        token: token
      )
      let rows = try #require(usage.json as? [[String: Any]])
      #expect(Set(rows.compactMap { $0["dimension"] as? String }) == ["log_events", "time_series"])
      #expect(
        rows.first { $0["dimension"] as? String == "log_events" }?["processedQuantity"] as? Double
          == 2.5
      )

      #expect(
        try await emulator.request(
          .DELETE,
          "/api/saas/subscriptions/\(id)?api-version=2018-08-31",
          token: token
        ).status == 202
      )
      let inactive = try await emulator.request(
        .POST,
        "/api/usageEvent?api-version=2018-08-31",
        token: token,
        body: event("session_replays", 1, hour)
      )
      #expect(inactive.status == 400)
    }
  }
}
