import AsyncHTTPClient
import Foundation
import Hummingbird
import JWTKit
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SuiteTesting
import Synchronization
import Testing

/// A publisher webhook standing in for the gateway: records what arrives and answers with
/// the status the test chooses.
final class WebhookReceiver: Sendable {
  struct Delivery: Sendable {
    var authorization: String?
    var body: [String: any Sendable]
  }

  private let state = Mutex<(deliveries: [Delivery], answer: HTTPResponse.Status)>(([], .ok))

  var deliveries: [Delivery] { state.withLock { $0.deliveries } }
  func answer(_ status: HTTPResponse.Status) { state.withLock { $0.answer = status } }

  /// Serves on a free port while `body` runs.
  func serve(_ body: (Int) async throws -> Void) async throws {
    let router = Router()
    router.post("webhook") { request, _ -> Response in
      let bytes = try await request.body.collect(upTo: 1 << 20)
      let json =
        (try? JSONSerialization.jsonObject(with: Data(buffer: bytes))) as? [String: Any] ?? [:]
      let sendable = json.mapValues { "\($0)" as any Sendable }.merging(
        [
          "subscriptionStatus":
            ((json["subscription"] as? [String: Any])?["saasSubscriptionStatus"] as? String) ?? ""
        ]) { $1 }
      return self.state.withLock { state in
        state.deliveries.append(
          Delivery(authorization: request.headers[.authorization], body: sendable)
        )
        return Response(status: state.answer)
      }
    }
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let app = Application(
      router: router,
      configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await app.runService(gracefulShutdownSignals: []) }
      var iterator = ports.makeAsyncIterator()
      let port = await iterator.next() ?? 0
      defer { group.cancelAll() }
      try await body(port)
    }
  }

  /// Waits until `count` deliveries have arrived.
  func waitFor(_ count: Int, timeout: Duration = .testPatience) async throws -> [Delivery] {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if deliveries.count >= count { return deliveries }
      try await Task.sleep(for: .milliseconds(50))
    }
    return deliveries
  }
}

@Suite("Emulated webhooks", .startsServices)
struct WebhookTests {
  @Test("events reach the webhook signed by the emulator, and answers decide ChangeQuantity")
  func delivery() async throws {
    let receiver = WebhookReceiver()
    try await receiver.serve { port in
      try await EmulatorProcess.with(environment: [
        "EMULATOR_WEBHOOK_URL": "http://127.0.0.1:\(port)/webhook",
        "EMULATOR_AUTO_ACCEPT_SECONDS": "1",
      ]) { emulator in
        let token = try await emulator.accessToken()
        let id = try await emulator.activated(
          token: token,
          plan: "commercial-seats",
          quantity: 2
        )
        @discardableResult
        func trigger(_ body: String) async throws -> String {
          let reply = try await emulator.request(
            .POST,
            "/admin/subscriptions/\(id)/events",
            body: body
          )
          #expect(reply.status == 201)
          return try #require((reply.json as? [String: Any])?["id"] as? String)
        }
        /// Waits until the marketplace has decided the operation (accepted or failed it).
        func decided(_ operation: String) async throws -> Bool {
          try await eventually {
            let reply = try await emulator.request(
              .GET,
              "/api/saas/subscriptions/\(id)/operations/\(operation)?api-version=2018-08-31",
              token: token
            )
            let status = (reply.json as? [String: Any])?["status"] as? String
            return reply.status == 200 && (status == "Succeeded" || status == "Failed")
          }
        }

        try await trigger(#"{"action": "Suspend"}"#)
        let suspend = try #require(try await receiver.waitFor(1).first)
        #expect(suspend.body["action"] as? String == "Suspend")
        #expect(suspend.body["subscriptionStatus"] as? String == "Suspended")
        #expect(suspend.body["operationRequestSource"] as? String == "Azure")

        // The bearer token verifies against the emulator's published keys, with the claims
        // a publisher checks.
        let jwks = try await emulator.request(.GET, "/tenant-1/discovery/keys")
        let keys = try await JWTKeyCollection().add(
          jwksJSON: String(
            decoding: try JSONSerialization.data(withJSONObject: try #require(jwks.json)),
            as: UTF8.self
          )
        )
        struct Claims: JWTPayload {
          var aud: AudienceClaim
          var tid: String
          var azp: String
          var exp: ExpirationClaim
          func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
          }
        }
        let bearer = try #require(
          suspend.authorization?.split(separator: " ").last.map(String.init)
        )
        let claims = try await keys.verify(bearer, as: Claims.self)
        #expect(claims.aud.value == ["app-1"])
        #expect(claims.tid == "tenant-1")
        #expect(claims.azp == EmulatorProcess.resource)

        try await trigger(#"{"action": "Reinstate"}"#)
        _ = try await receiver.waitFor(2)
        let reinstate = try #require(
          try await emulator.request(
            .GET,
            "/api/saas/subscriptions/\(id)/operations?api-version=2018-08-31",
            token: token
          ).json
            as? [String: Any]
        )
        let operation = try #require(
          (reinstate["operations"] as? [[String: Any]])?.first?["id"] as? String
        )
        _ = try await emulator.request(
          .PATCH,
          "/api/saas/subscriptions/\(id)/operations/\(operation)?api-version=2018-08-31",
          token: token,
          body: #"{"status": "Success"}"#
        )

        // Unanswered: accepted after the (shortened) 10 seconds.
        let accepted = try await trigger(#"{"action": "ChangeQuantity", "quantity": 4}"#)
        _ = try await receiver.waitFor(3)
        #expect(try await decided(accepted))
        #expect(
          try await emulator.subscription(id, token: token)["quantity"]
            as? Int == 4
        )

        // Refused with a 4xx: the change fails and the quantity stays.
        receiver.answer(.badRequest)
        let refused = try await trigger(#"{"action": "ChangeQuantity", "quantity": 9}"#)
        _ = try await receiver.waitFor(4)
        #expect(try await decided(refused))
        #expect(
          try await emulator.subscription(id, token: token)["quantity"]
            as? Int == 4
        )
      }
    }
  }

  @Test("a webhook that fails is retried")
  func retries() async throws {
    let receiver = WebhookReceiver()
    receiver.answer(.serviceUnavailable)
    try await receiver.serve { port in
      try await EmulatorProcess.with(environment: [
        "EMULATOR_WEBHOOK_URL": "http://127.0.0.1:\(port)/webhook"
      ]) { emulator in
        let token = try await emulator.accessToken()
        let id = try await emulator.activated(token: token)
        #expect(
          try await emulator.request(
            .POST,
            "/admin/subscriptions/\(id)/events",
            body: #"{"action": "Renew"}"#
          ).status == 201
        )
        _ = try await receiver.waitFor(1)
        receiver.answer(.ok)
        let all = try await receiver.waitFor(2)
        #expect(all.count >= 2)
        #expect(all.allSatisfy { $0.body["action"] as? String == "Renew" })
      }
    }
  }
}
