import AsyncHTTPClient
import Foundation
import GRPCCore
import GuanceContracts
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import PostgresNIO
import SuiteTesting
import SwiftProtobuf
import Testing

/// Subscriptions after activation: every marketplace event, triggered at the emulator and
/// delivered to the gateway's webhook, observed in the console, the billing center and the
/// gateway.
@Suite("Subscription lifecycle", .startsServices)
struct LifecycleTests {
  @Test(
    "plan and quantity changes, renewal, suspension, reinstatement and cancellation are followed"
  )
  func everyAction() async throws {
    // Guance sells at most 50 seats in this test, fewer than the marketplace allows.
    try await SuiteHarness.with(gateway: ["MARKETPLACE_PLANS": "commercial,commercial-seats:1-50"])
    { suite in
      try await suite.connectWebhook()
      let (subscription, workspace) = try await suite.activatedSubscription(
        plan: "commercial-seats",
        quantity: 3,
        username: "lifecycle"
      )
      func done(
        _ operation: String
      ) async throws -> (state: String, outcome: String?, deliveries: Int)? {
        _ = try await suite.eventually {
          try await suite.lifecycleOperation(operation).map { $0.state != "received" } ?? false
        }
        return try await suite.lifecycleOperation(operation)
      }

      // ChangeQuantity within the plan's seats: accepted (PATCH Success) well before the
      // marketplace's own 10-second auto-accept.
      let started = ContinuousClock.now
      let more = try await suite.trigger(subscription, "ChangeQuantity", quantity: 5)
      #expect(try await done(more)?.state == "applied")
      #expect(ContinuousClock.now - started < .seconds(8))
      #expect(
        try await suite.marketplaceOperation(subscription, more)["status"] as? String == "Succeeded"
      )
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 5)
      #expect(
        try await suite.gatewayQuery(
          "SELECT quantity FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: Int.self
        ) == 5
      )

      // Beyond the plan's 50 seats: declined (PATCH Failure); nothing changes.
      let tooMany = try await suite.trigger(subscription, "ChangeQuantity", quantity: 100)
      let declined = try await done(tooMany)
      #expect(declined?.state == "declined")
      #expect(declined?.outcome?.contains("outside plan commercial-seats") == true)
      #expect(
        try await suite.marketplaceOperation(subscription, tooMany)["status"] as? String == "Failed"
      )
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 5)

      // ChangePlan to a plan Guance sells: accepted.
      let plan = try await suite.trigger(subscription, "ChangePlan", plan: "commercial")
      #expect(try await done(plan)?.state == "applied")
      #expect(
        try await suite.gatewayQuery(
          "SELECT plan_id FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: String.self
        ) == "commercial"
      )

      // Renew: the term rolls on; the gateway records the marketplace's new dates.
      let renew = try await suite.trigger(subscription, "Renew")
      #expect(try await done(renew)?.state == "applied")
      let termEnd =
        try #require(
          try await suite.marketplaceSubscription(subscription)["term"] as? [String: Any]
        )["endDate"] as? String
      let recordedEnd = try await suite.gatewayQuery(
        "SELECT to_char(term_end AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM marketplace_subscriptions WHERE id = \(subscription)",
        as: String.self
      )
      #expect(termEnd?.hasPrefix(recordedEnd ?? "-") == true)

      // Suspend: the workspace settled through it is suspended in the console.
      let suspend = try await suite.trigger(subscription, "Suspend")
      #expect(try await done(suspend)?.state == "applied")
      #expect(try await suite.workspaceStatus(workspace) == .suspended)
      #expect(
        try await suite.gatewayQuery(
          "SELECT marketplace_status FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: String.self
        ) == "Suspended"
      )

      // Reinstate: acknowledged (PATCH Success), the workspace is active again.
      let reinstate = try await suite.trigger(subscription, "Reinstate")
      #expect(try await done(reinstate)?.state == "applied")
      #expect(
        try await suite.marketplaceSubscription(subscription)["saasSubscriptionStatus"] as? String
          == "Subscribed"
      )
      #expect(try await suite.workspaceStatus(workspace) == .active)

      // Unsubscribe: cloud settlement ends, the workspace is flagged, data kept 7+ days.
      let unsubscribe = try await suite.trigger(subscription, "Unsubscribe")
      #expect(try await done(unsubscribe)?.state == "applied")
      #expect(try await suite.workspaceStatus(workspace) == .suspended)
      let keptDays = try await suite.gatewayQuery(
        "SELECT floor(EXTRACT(EPOCH FROM data_kept_until - now()) / 86400)::int FROM marketplace_subscriptions WHERE id = \(subscription)",
        as: Int.self
      )
      #expect((keptDays ?? 0) >= 7)
      let bindings = try await suite.billingClient { billing in
        let session = try await billing.login(
          .with {
            $0.login = "lifecycle"
            $0.password = "correct horse battery"
          }
        )
        return try await billing.listBoundWorkspaces(
          .with { $0.billingAccountID = session.billingAccount.id },
          metadata: ["authorization": "Bearer \(session.sessionToken)"]
        ).bindings
      }
      // The workspace stays in the billing account's list as history: its cloud settlement
      // ended with the subscription.
      #expect(bindings.count == 1)
      #expect(bindings.first?.workspaceID == workspace)
      #expect(bindings.first?.settlement.marketplaceSubscriptionID == subscription)
      #expect(bindings.first?.hasEndedAt == true)

      // Every operation is in the subscription's audit trail, once.
      let audited = try await suite.gatewayQuery(
        "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event LIKE 'lifecycle_%'",
        as: Int.self
      )
      #expect(audited == 7)
    }
  }

  /// Posts `body` to the gateway's webhook with `authorization`; returns the HTTP status.
  static func post(
    _ suite: SuiteHarness,
    _ body: [String: Any],
    authorization: String?
  ) async throws -> Int {
    var request = HTTPClientRequest(url: "http://\(try await suite.landingAddress())/webhook")
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    if let authorization { request.headers.add(name: "authorization", value: authorization) }
    request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
    let response = try await HTTPClient.shared.execute(request, timeout: .testPatience)
    _ = try await response.body.collect(upTo: 1 << 16)
    return Int(response.status.code)
  }

  /// A webhook token signed by the emulated marketplace, with `changes` to its claims.
  static func token(_ suite: SuiteHarness, _ changes: String = "{}") async throws -> String {
    let reply = try await suite.emulator.request(.POST, "/admin/webhook-token", body: changes)
    return try #require((reply.json as? [String: Any])?["token"] as? String)
  }

  static func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(
      of: "/",
      with: "_"
    )
    .replacingOccurrences(of: "=", with: "")
  }

  @Test("webhook calls without a valid marketplace token are refused and change nothing")
  func tokens() async throws {
    try await SuiteHarness.with { suite in
      let body: [String: Any] = [
        "id": UUID().uuidString.lowercased(), "subscriptionId": UUID().uuidString.lowercased(),
        "action": "Renew",
        "status": "Succeeded", "timeStamp": "2026-11-27T10:00:00.1234567Z",
      ]
      let valid = try await Self.token(suite)
      let parts = valid.split(separator: ".").map(String.init)
      let headerData = try #require(Data(base64Encoded: Self.pad(parts[0])))
      let header = try JSONSerialization.jsonObject(with: headerData) as? [String: Any]
      let kid = try #require(header?["kid"] as? String)
      let claims = try #require(Data(base64Encoded: Self.pad(parts[1])))

      // alg none: the same claims, no signature.
      let none =
        Self.base64URL(
          try JSONSerialization.data(withJSONObject: ["alg": "none", "kid": kid, "typ": "JWT"])
        )
        + "." + parts[1] + "."
      // HS256 keyed with something public (the classic key-confusion attack).
      let hs256 =
        Self.base64URL(
          try JSONSerialization.data(withJSONObject: ["alg": "HS256", "kid": kid, "typ": "JWT"])
        )
        + "." + parts[1] + "." + Self.base64URL(Data(repeating: 7, count: 32))
      // The marketplace's header and signature over claims it never signed.
      let parsedClaims = try JSONSerialization.jsonObject(with: claims) as? [String: Any]
      var forgedClaims = try #require(parsedClaims)
      forgedClaims["exp"] = Date().timeIntervalSince1970 + 86400 * 365
      let forged =
        parts[0] + "." + Self.base64URL(try JSONSerialization.data(withJSONObject: forgedClaims))
        + "." + parts[2]
      // Signed by a key the marketplace never published.
      let unknownKid =
        Self.base64URL(
          try JSONSerialization.data(withJSONObject: [
            "alg": "RS256", "kid": "not-a-marketplace-key", "typ": "JWT",
          ])
        )
        + "." + parts[1] + "." + parts[2]

      let refused: [(String, String?)] = [
        ("missing", nil),
        ("not bearer", "Basic \(valid)"),
        ("alg none", "Bearer \(none)"),
        ("HS256", "Bearer \(hs256)"),
        ("forged signature", "Bearer \(forged)"),
        ("unknown kid", "Bearer \(unknownKid)"),
        ("wrong aud", "Bearer \(try await Self.token(suite, #"{"aud": "someone-else"}"#))"),
        ("wrong tid", "Bearer \(try await Self.token(suite, #"{"tid": "tenant-2"}"#))"),
        (
          "wrong appid",
          "Bearer \(try await Self.token(suite, #"{"appid": "app-x", "azp": "app-x"}"#))"
        ),
        ("no appid", "Bearer \(try await Self.token(suite, #"{"omit": ["appid", "azp"]}"#))"),
        ("expired", "Bearer \(try await Self.token(suite, #"{"expiresInSeconds": -1}"#))"),
        ("no expiry", "Bearer \(try await Self.token(suite, #"{"omit": ["exp"]}"#))"),
        ("not yet valid", "Bearer \(try await Self.token(suite, #"{"notBeforeInSeconds": 120}"#))"),
        (
          "other issuer",
          "Bearer \(try await Self.token(suite, #"{"iss": "https://evil.example/tenant-1/v2.0"}"#))"
        ),
      ]
      for (name, authorization) in refused {
        #expect(try await Self.post(suite, body, authorization: authorization) == 401, "\(name)")
      }
      #expect(
        try await suite.gatewayQuery("SELECT count(*)::int FROM lifecycle_operations", as: Int.self)
          == 0
      )
      #expect(
        suite.gateway.log.components(separatedBy: "webhook call without a bearer token").count == 2
      )
      #expect(
        suite.gateway.log.components(separatedBy: "webhook call with an invalid token").count
          == refused.count
      )

      // Both issuer forms pass. A valid call is stored, then checked with the marketplace,
      // which does not know this made-up operation: nothing is done.
      let v1 = try await Self.token(suite, #"{"iss": "https://sts.windows.net/tenant-1/"}"#)
      #expect(try await Self.post(suite, body, authorization: "Bearer \(v1)") == 200)
      #expect(try await Self.post(suite, body, authorization: "Bearer \(valid)") == 200)
      let id = try #require(body["id"] as? String)
      #expect(
        try await suite.eventually { try await suite.lifecycleOperation(id)?.state == "unverified" }
      )
      #expect(try await suite.lifecycleOperation(id)?.deliveries == 2)
      // A body that is not an operation, with a valid token: 400, nothing stored.
      #expect(
        try await Self.post(suite, ["hello": "world"], authorization: "Bearer \(valid)") == 400
      )
      // Nor is one with text PostgreSQL cannot store (a NUL) or that no operation has: 400 at
      // once, never a 503 the marketplace would redeliver for hours.
      for (key, value) in [
        ("action", "Renew\u{0}"), ("planId", "commercial\u{0}"),
        ("operationRequestSource", "Az\u{0}ure"),
        ("action", "Re\nnew"), ("planId", String(repeating: "p", count: 129)),
      ] {
        var refused = body
        refused["id"] = UUID().uuidString.lowercased()
        refused[key] = value
        #expect(
          try await Self.post(suite, refused, authorization: "Bearer \(valid)") == 400,
          "\(key)"
        )
      }
      #expect(
        try await suite.gatewayQuery("SELECT count(*)::int FROM lifecycle_operations", as: Int.self)
          == 1
      )
      #expect(!suite.gateway.log.contains("could not be stored"))
    }
  }

  @Test(
    "an action the contract does not name is logged and the subscription followed as the marketplace has it"
  )
  func unknownAction() async throws {
    try await SuiteHarness.with { suite in
      try await suite.connectWebhook()
      let (subscription, workspace) = try await suite.activatedSubscription(username: "unknown")
      let reply = try await suite.emulator.request(
        .POST,
        "/admin/subscriptions/\(subscription)/events",
        body: #"{"action": "Transfer", "unknownAction": true}"#
      )
      #expect(reply.status == 201)
      let operation = try #require((reply.json as? [String: Any])?["id"] as? String)
      #expect(
        try await suite.eventually {
          try await suite.lifecycleOperation(operation)?.state == "applied"
        }
      )
      #expect(suite.gateway.log.contains("unknown lifecycle action"))
      #expect(try await suite.workspaceStatus(workspace) == .active)
      #expect(
        try await suite.gatewayQuery(
          "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event = 'lifecycle_transfer'",
          as: Int.self
        ) == 1
      )
    }
  }

  @Test("with a certificate the webhook is served over HTTPS only")
  func https() async throws {
    let certificates = FileManager.default.temporaryDirectory.appendingPathComponent(
      "webhook-tls-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: certificates) }
    let made = try await Command.run(
      ProjectPython.packageFile("scripts/certs.sh"),
      [certificates.path, "Webhook test CA"]
    )
    #expect(made.status == 0, "\(made.output)")
    func file(_ name: String) -> String { certificates.appendingPathComponent(name).path }
    try await SuiteHarness.with(gateway: [
      "LANDING_TLS_CERT_FILE": file("server.pem"), "LANDING_TLS_KEY_FILE": file("server.key"),
    ]) {
      suite in
      var tls = TLSConfiguration.makeClientConfiguration()
      tls.trustRoots = .file(file("ca.pem"))
      let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(tlsConfiguration: tls)
      )
      func post(_ scheme: String, authorization: String?) async throws -> Int {
        var request = HTTPClientRequest(
          url: "\(scheme)://\(try await suite.landingAddress())/webhook"
        )
        request.method = .POST
        if let authorization { request.headers.add(name: "authorization", value: authorization) }
        request.body = .bytes(
          ByteBuffer(
            string:
              #"{"id": "\#(UUID().uuidString)", "subscriptionId": "\#(UUID().uuidString)", "action": "Renew"}"#
          )
        )
        let response = try await client.execute(request, timeout: .testPatience)
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
      }
      let outcome: (missing: Int, valid: Int, plain: Int?) = (
        try await post("https", authorization: nil),
        try await post("https", authorization: "Bearer \(try await Self.token(suite))"),
        try? await post("http", authorization: nil)
      )
      try await client.shutdown()
      #expect(outcome.missing == 401)
      #expect(outcome.valid == 200)
      // Plain HTTP gets no webhook answer from a TLS port.
      #expect(outcome.plain == nil || outcome.plain == 400)
      #expect(
        try await suite.gatewayQuery("SELECT count(*)::int FROM lifecycle_operations", as: Int.self)
          == 1
      )
    }
  }

  /// The gateway's lifecycle reconciler passes so far, from its `/metrics`.
  static func reconcilePasses(_ suite: SuiteHarness) async throws -> Int {
    let exposition = try await OperatorSurfaceTests.scrape(suite.gateway)
    return exposition.split(separator: "\n").reduce(0) { total, line in
      guard line.hasPrefix("lifecycle_reconcile_passes_total{"),
        let count = line.split(separator: " ").last.flatMap({ Double($0) })
      else { return total }
      return total + Int(count)
    }
  }

  static func pad(_ base64URL: String) -> String {
    let base64 = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(
      of: "_",
      with: "/"
    )
    return base64 + String(repeating: "=", count: (4 - base64.count % 4) % 4)
  }

  @Test("duplicate and shuffled deliveries change state once")
  func duplicatesAndShuffles() async throws {
    try await SuiteHarness.with { suite in
      // No webhook configured at the marketplace: this test delivers by hand.
      let (subscription, workspace) = try await suite.activatedSubscription(username: "shuffle")
      let suspend = try await suite.trigger(subscription, "Suspend")
      let reinstate = try await suite.trigger(subscription, "Reinstate")
      func payload(_ id: String, _ action: String) -> [String: Any] {
        [
          "id": id, "subscriptionId": subscription, "action": action,
          "operationRequestSource": "Azure", "extra": ["new": true],
        ]
      }
      let token = "Bearer \(try await Self.token(suite))"
      // Newest first, each three times, interleaved.
      for (id, action) in [
        (reinstate, "Reinstate"), (suspend, "Suspend"), (reinstate, "Reinstate"),
        (suspend, "Suspend"),
        (suspend, "Suspend"), (reinstate, "Reinstate"),
      ] {
        #expect(try await Self.post(suite, payload(id, action), authorization: token) == 200)
      }
      for id in [suspend, reinstate] {
        #expect(
          try await suite.eventually { try await suite.lifecycleOperation(id)?.state == "applied" }
        )
        #expect(try await suite.lifecycleOperation(id)?.deliveries == 3)
      }
      #expect(
        try await suite.marketplaceSubscription(subscription)["saasSubscriptionStatus"] as? String
          == "Subscribed"
      )
      #expect(try await suite.workspaceStatus(workspace) == .active)
      #expect(
        try await suite.gatewayQuery(
          "SELECT marketplace_status FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: String.self
        ) == "Subscribed"
      )
      // One audit row per operation, whatever the number of deliveries.
      let audited = try await suite.gatewayQuery(
        "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event LIKE 'lifecycle_%'",
        as: Int.self
      )
      #expect(audited == 2)
    }
  }

  @Test("the reconciler repairs missed webhooks: an outstanding change and a suspension")
  func reconciler() async throws {
    try await SuiteHarness.with(gateway: ["LIFECYCLE_RECONCILE_SECONDS": "1"]) { suite in
      // No webhook configured: nothing is ever posted to the gateway.
      let (subscription, workspace) = try await suite.activatedSubscription(
        plan: "commercial-seats",
        quantity: 2,
        username: "reconciled"
      )
      let change = try await suite.trigger(subscription, "ChangeQuantity", quantity: 4)
      #expect(
        try await suite.eventually {
          try await suite.lifecycleOperation(change)?.state == "applied"
        }
      )
      #expect(try await suite.marketplaceSubscription(subscription)["quantity"] as? Int == 4)
      #expect(
        try await suite.gatewayQuery(
          "SELECT source FROM lifecycle_operations WHERE id = \(change)",
          as: String.self
        ) == "reconciler"
      )

      try await suite.trigger(subscription, "Suspend")
      #expect(
        try await suite.eventually { try await suite.workspaceStatus(workspace) == .suspended }
      )
      #expect(
        try await suite.gatewayQuery(
          "SELECT marketplace_status FROM marketplace_subscriptions WHERE id = \(subscription)",
          as: String.self
        ) == "Suspended"
      )
      // Once in line with the marketplace, further passes change nothing.
      let audited = try await suite.gatewayQuery(
        "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event LIKE 'lifecycle_%'",
        as: Int.self
      )
      // Two more passes, seen in the gateway's metrics (not waited for on the clock).
      let passes = try await Self.reconcilePasses(suite)
      #expect(try await suite.eventually { try await Self.reconcilePasses(suite) >= passes + 2 })
      #expect(
        try await suite.gatewayQuery(
          "SELECT count(*)::int FROM subscription_audit WHERE subscription_id = \(subscription) AND event LIKE 'lifecycle_%'",
          as: Int.self
        ) == audited
      )
    }
  }
}
