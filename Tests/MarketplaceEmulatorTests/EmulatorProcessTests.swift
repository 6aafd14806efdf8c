import AsyncHTTPClient
import Foundation
import JWTKit
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SuitePersistence
import SuiteTesting
import Testing

/// The built `marketplace-emulator` over real HTTP, as the gateway's client will meet it.
@Suite("The marketplace emulator", .startsServices)
struct EmulatorProcessTests {
  @Test("tokens go only to the configured app, and verify against the published keys")
  func tokens() async throws {
    try await EmulatorProcess.with { emulator in
      var wrong = HTTPClientRequest(url: "\(emulator.base)/tenant-1/oauth2/token")
      wrong.method = .POST
      wrong.body = .bytes(
        ByteBuffer(
          string:
            "grant_type=client_credentials&client_id=app-1&client_secret=guess&resource=\(EmulatorProcess.resource)"
        )
      )
      #expect(
        try await HTTPClient.shared.execute(wrong, timeout: .testPatience).status == .unauthorized
      )

      let token = try await emulator.accessToken()
      let jwks = try await emulator.request(.GET, "/tenant-1/discovery/keys")
      let keysJSON = try JSONSerialization.data(withJSONObject: try #require(jwks.json))
      let keys = try await JWTKeyCollection().add(
        jwksJSON: String(decoding: keysJSON, as: UTF8.self)
      )
      struct Claims: JWTPayload {
        var aud: AudienceClaim
        var tid: String
        var appid: String
        var exp: ExpirationClaim
        func verify(using algorithm: some JWTAlgorithm) async throws { try exp.verifyNotExpired() }
      }
      let claims = try await keys.verify(token, as: Claims.self)
      #expect(claims.tid == "tenant-1")
      #expect(claims.appid == "app-1")
      #expect(claims.aud.value == [EmulatorProcess.resource])
      let discovery = try #require(
        try await emulator.request(.GET, "/tenant-1/.well-known/openid-configuration").json
          as? [String: Any]
      )
      #expect((discovery["jwks_uri"] as? String)?.hasSuffix("/tenant-1/discovery/keys") == true)
    }
  }

  @Test("API calls need the api-version and a token; request ids are echoed")
  func conventions() async throws {
    try await EmulatorProcess.with { emulator in
      let token = try await emulator.accessToken()
      let noVersion = try await emulator.request(.GET, "/api/saas/subscriptions", token: token)
      #expect(noVersion.status == 400)
      #expect(
        ((noVersion.json as? [String: Any])?["Error"] as? [String: Any])?["Code"] as? String
          == "ApiVersionUnspecified"
      )
      let badVersion = try await emulator.request(
        .GET,
        "/api/saas/subscriptions?api-version=2020-01-01",
        token: token
      )
      #expect(
        ((badVersion.json as? [String: Any])?["Error"] as? [String: Any])?["Code"] as? String
          == "UnsupportedApiVersion"
      )
      let anonymous = try await emulator.request(
        .GET,
        "/api/saas/subscriptions?api-version=2018-08-31"
      )
      #expect(anonymous.status == 401)
      let echoed = try await emulator.request(
        .GET,
        "/api/saas/subscriptions?api-version=2018-08-31",
        token: token,
        headers: [("x-ms-requestid", "r-1"), ("x-ms-correlationid", "c-1")]
      )
      #expect(echoed.status == 200)
      #expect(echoed.headers.first(name: "x-ms-requestid") == "r-1")
      #expect(echoed.headers.first(name: "x-ms-correlationid") == "c-1")
    }
  }

  @Test("a purchase resolves with its URL-decoded token and activates exactly once")
  func resolveAndActivate() async throws {
    try await EmulatorProcess.with { emulator in
      let token = try await emulator.accessToken()
      let purchase = try await emulator.purchase(#"{"planId": "commercial-seats", "quantity": 5}"#)
      #expect(purchase.landing.hasPrefix("http://gateway.test/landing?token="))
      let encoded = String(purchase.landing.split(separator: "=", maxSplits: 1)[1])
      #expect(encoded.removingPercentEncoding == purchase.token)

      let resolved = try await emulator.request(
        .POST,
        "/api/saas/subscriptions/resolve?api-version=2018-08-31",
        token: token,
        headers: [("x-ms-marketplace-token", purchase.token)]
      )
      #expect(resolved.status == 200)
      let json = try #require(resolved.json as? [String: Any])
      #expect(json["id"] as? String == purchase.id)
      #expect(json["planId"] as? String == "commercial-seats")
      #expect(
        (json["subscription"] as? [String: Any])?["saasSubscriptionStatus"] as? String
          == "PendingFulfillmentStart"
      )
      for bad in ["garbage", String(purchase.token.dropLast())] {
        let refused = try await emulator.request(
          .POST,
          "/api/saas/subscriptions/resolve?api-version=2018-08-31",
          token: token,
          headers: [("x-ms-marketplace-token", bad)]
        )
        #expect(refused.status == 400)
      }

      let activate = "/api/saas/subscriptions/\(purchase.id)/activate?api-version=2018-08-31"
      #expect(
        try await emulator.request(
          .POST,
          activate,
          token: token,
          body: #"{"planId": "commercial", "quantity": 5}"#
        ).status == 400
      )
      #expect(
        try await emulator.request(
          .POST,
          activate,
          token: token,
          body: #"{"planId": "commercial-seats", "quantity": 4}"#
        ).status == 400
      )
      #expect(
        try await emulator.request(
          .POST,
          activate,
          token: token,
          body: #"{"planId": "commercial-seats", "quantity": "5"}"#
        ).status == 200
      )
      #expect(
        try await emulator.request(
          .POST,
          activate,
          token: token,
          body: #"{"planId": "commercial-seats", "quantity": 5}"#
        ).status == 400
      )
      let count = try await emulator.request(
        .GET,
        "/admin/subscriptions/\(purchase.id)/activations"
      )
      #expect((count.json as? [String: Any])?["activations"] as? Int == 1)
      let fetched = try await emulator.request(
        .GET,
        "/api/saas/subscriptions/\(purchase.id)?api-version=2018-08-31",
        token: token
      )
      #expect(
        (fetched.json as? [String: Any])?["saasSubscriptionStatus"] as? String == "Subscribed"
      )
      let unknown = try await emulator.request(
        .GET,
        "/api/saas/subscriptions/\(UUID().uuidString)?api-version=2018-08-31",
        token: token
      )
      #expect(unknown.status == 404)
    }
  }

  @Test("expired landing tokens are refused")
  func expiredToken() async throws {
    try await EmulatorProcess.with(environment: ["EMULATOR_TOKEN_LIFETIME_SECONDS": "1"]) {
      emulator in
      let token = try await emulator.accessToken()
      let purchase = try await emulator.purchase()
      try await Task.sleep(for: .milliseconds(1500))
      let refused = try await emulator.request(
        .POST,
        "/api/saas/subscriptions/resolve?api-version=2018-08-31",
        token: token,
        headers: [("x-ms-marketplace-token", purchase.token)]
      )
      #expect(refused.status == 400)
      #expect(
        ((refused.json as? [String: Any])?["error"] as? [String: Any])?["message"] as? String
          == "the marketplace token has expired"
      )
    }
  }

  @Test("subscriptions are listed 100 a page, and survive a restart with the same keys")
  func pagingAndRestart() async throws {
    try await TestDatabase.withFreshDatabase { url in
      var firstToken = ""
      try await EmulatorProcess.with(database: url) { emulator in
        for _ in 0..<101 { _ = try await emulator.purchase() }
        firstToken = try await emulator.accessToken()
        let page = try await emulator.request(
          .GET,
          "/api/saas/subscriptions?api-version=2018-08-31",
          token: firstToken
        )
        let json = try #require(page.json as? [String: Any])
        #expect((json["subscriptions"] as? [Any])?.count == 100)
        let next = try #require(json["@nextLink"] as? String)
        let second = try await emulator.request(.GET, next, token: firstToken)
        #expect(((second.json as? [String: Any])?["subscriptions"] as? [Any])?.count == 1)
      }
      try await EmulatorProcess.with(database: url) { emulator in
        // A token from before the restart still verifies: the signing key was kept.
        let page = try await emulator.request(
          .GET,
          "/api/saas/subscriptions?api-version=2018-08-31",
          token: firstToken
        )
        #expect(page.status == 200)
        #expect(((page.json as? [String: Any])?["subscriptions"] as? [Any])?.count == 100)
      }
    }
  }
}
