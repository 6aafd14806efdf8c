import AsyncHTTPClient
import Foundation
public import Logging
public import MarketplaceClient
import NIOCore
import NIOFoundationCompat
public import NIOHTTP1
public import SuitePersistence
public import Testing

/// The built `marketplace-emulator` as a process on its own database, over real HTTP as the
/// gateway's client meets it: what the emulator's, the client's and the gateway's tests run
/// against.
public struct EmulatorProcess: Sendable {
  public let process: ServiceProcess
  public var base: String { "http://\(process.address)" }

  /// The resource its tokens are issued for.
  public static let resource = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"

  public func request(
    _ method: HTTPMethod,
    _ path: String,
    token: String? = nil,
    headers: [(String, String)] = [],
    body: String? = nil
  ) async throws -> (status: Int, headers: HTTPHeaders, json: Any?) {
    var request = HTTPClientRequest(url: base + path)
    request.method = method
    if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
      request.headers.add(name: "content-type", value: "application/json")
      request.body = .bytes(ByteBuffer(string: body))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .testPatience)
    let bytes = try await response.body.collect(upTo: 4 << 20)
    let json =
      bytes.readableBytes > 0 ? try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) : nil
    return (Int(response.status.code), response.headers, json)
  }

  public func accessToken() async throws -> String {
    var request = HTTPClientRequest(url: "\(base)/tenant-1/oauth2/token")
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
    request.body = .bytes(
      ByteBuffer(
        string:
          "grant_type=client_credentials&client_id=app-1&client_secret=s3cret&resource=\(Self.resource)"
      )
    )
    let response = try await HTTPClient.shared.execute(request, timeout: .testPatience)
    let body = try await response.body.collect(upTo: 1 << 20)
    let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
    return try #require(json?["access_token"] as? String)
  }

  public func purchase(
    _ body: String = "{}"
  ) async throws -> (id: String, token: String, landing: String) {
    let reply = try await request(.POST, "/admin/purchases", body: body)
    let json = try #require(reply.json as? [String: Any])
    return (
      try #require(json["subscriptionId"] as? String), try #require(json["token"] as? String),
      try #require(json["landingUrl"] as? String)
    )
  }

  /// A new purchase of `plan` (and `quantity`), activated as the publisher would with
  /// `token`; its subscription's id.
  public func activated(
    token: String,
    plan: String = "commercial",
    quantity: Int? = nil
  ) async throws -> String {
    let body =
      quantity.map { #"{"planId": "\#(plan)", "quantity": \#($0)}"# } ?? #"{"planId": "\#(plan)"}"#
    let purchase = try await purchase(body)
    let status = try await request(
      .POST,
      "/api/saas/subscriptions/\(purchase.id)/activate?api-version=2018-08-31",
      token: token,
      body: body
    ).status
    #expect(status == 200)
    return purchase.id
  }

  /// A subscription as the marketplace has it (Get subscription).
  public func subscription(_ id: String, token: String) async throws -> [String: Any] {
    try #require(
      try await request(.GET, "/api/saas/subscriptions/\(id)?api-version=2018-08-31", token: token)
        .json as? [String: Any]
    )
  }

  /// The gateway's marketplace client of this emulator, as the tests' tenant and app.
  public func client(
    secret: String = "s3cret",
    timeout: Duration = .seconds(5)
  ) -> MarketplaceClient {
    MarketplaceClient(
      settings: .init(
        apiBaseURL: "\(base)/api",
        loginBaseURL: base,
        tenantID: "tenant-1",
        clientID: "app-1",
        clientSecret: secret,
        timeout: timeout
      ),
      logger: Logger(label: "client-test")
    )
  }

  /// Runs `body` with an emulator started on `database` (a fresh one when nil), stopping it
  /// after; its log is recorded with a failure.
  public static func with(
    database: DatabaseURL? = nil,
    environment: [String: String] = [:],
    _ body: (EmulatorProcess) async throws -> Void
  ) async throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "emulator-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: work) }
    func run(_ url: DatabaseURL) async throws {
      let process = try await ServiceProcess(
        "marketplace-emulator",
        environment: [
          "DATABASE_URL": url.text, "EMULATOR_PORT": "0", "MARKETPLACE_TENANT_ID": "tenant-1",
          "MARKETPLACE_CLIENT_ID": "app-1", "MARKETPLACE_CLIENT_SECRET": "s3cret",
          "EMULATOR_LANDING_URL": "http://gateway.test/landing",
        ].merging(environment) { $1 },
        workDirectory: work
      )
      do {
        try await body(EmulatorProcess(process: process))
      } catch {
        Issue.record("emulator log:\n\(process.log)")
        await process.stop()
        throw error
      }
      await process.stop()
    }
    if let database {
      try await run(database)
    } else {
      try await TestDatabase.withFreshDatabase(run)
    }
  }
}
