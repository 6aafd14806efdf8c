import AsyncHTTPClient
import Foundation
import JWTKit
public import Logging
import NIOCore
import NIOHTTP1
public import ServiceLifecycle
import SuiteKit
import Synchronization

/// The publisher's webhook URL ("Connection webhook" in Technical configuration): set at
/// start-up or later through the admin API; none means operations wait undelivered.
public final class WebhookTarget: Sendable {
  private let url: Mutex<String?>

  public init(_ url: String?) { self.url = Mutex(url) }

  public var current: String? { url.withLock { $0 } }
  public func set(_ new: String?) { url.withLock { $0 = new } }
}

/// Claims of the webhook's bearer token (Entra v2 shape). Optional claims may be left out by
/// the admin signer, to test how the publisher copes.
struct WebhookClaims: JWTPayload {
  var aud: AudienceClaim?
  var iss: IssuerClaim?
  var tid: String?
  var appid: String?
  var azp: String?
  var exp: ExpirationClaim?
  var nbf: NotBeforeClaim?
  var iat: IssuedAtClaim?

  func verify(using algorithm: some JWTAlgorithm) async throws {}

  /// What the marketplace sends: valid for 5 minutes, from 30 seconds ago.
  static func standard(audience: String, tenantID: String, now: Date = Date()) -> WebhookClaims {
    WebhookClaims(
      aud: .init(value: audience),
      iss: .init(value: "https://login.microsoftonline.com/\(tenantID)/v2.0"),
      tid: tenantID,
      appid: TokenIssuer.marketplaceResource,
      azp: TokenIssuer.marketplaceResource,
      exp: .init(value: now.addingTimeInterval(300)),
      nbf: .init(value: now.addingTimeInterval(-30)),
      iat: .init(value: now)
    )
  }
}

/// Posts each operation to the publisher's webhook with a bearer JWT signed by the emulator
/// (aud = the publisher's app, tid = its tenant, appid/azp = the marketplace), retries what
/// fails, and accepts unanswered ChangePlan/ChangeQuantity after 10 seconds.
public struct WebhookDeliverer: Service {
  private let store: EmulatorStore
  private let issuer: TokenIssuer
  private let target: WebhookTarget
  private let tenantID: String
  private let audience: String
  private let logger: Logger
  private let autoAcceptAfter: Duration

  public init(
    store: EmulatorStore,
    issuer: TokenIssuer,
    target: WebhookTarget,
    tenantID: String,
    audience: String,
    logger: Logger,
    autoAcceptAfter: Duration = .seconds(10)
  ) {
    self.store = store
    self.issuer = issuer
    self.target = target
    self.tenantID = tenantID
    self.audience = audience
    self.logger = logger
    self.autoAcceptAfter = autoAcceptAfter
  }

  public func run() async throws {
    await repeatEvery(.milliseconds(200)) {
      // Without a webhook URL nothing is delivered, so nothing can be auto-accepted either.
      guard let url = target.current else { return }
      do {
        for delivery in try await store.dueDeliveries() { try await deliver(delivery, to: url) }
        try await store.autoAccept(after: autoAcceptAfter)
      } catch {
        logger.warning("webhook pass failed", metadata: ["error": "\(error)"])
      }
    }
  }

  private func deliver(_ delivery: EmulatorStore.Delivery, to url: String) async throws {
    let token = try await issuer.sign(
      WebhookClaims.standard(audience: audience, tenantID: tenantID)
    )
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.headers.add(name: "authorization", value: "Bearer \(token)")
    request.body = .bytes(ByteBuffer(bytes: try Self.payload(delivery)))
    let id = delivery.operation.id
    do {
      let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
      _ = try? await response.body.collect(upTo: 1 << 20)
      switch response.status.code {
      case 200..<300: try await store.markDelivered(id)
      case 400..<500: try await store.markRejected(id, reason: "HTTP \(response.status.code)")
      default: try await store.markRetry(id, reason: "HTTP \(response.status.code)")
      }
      logger.info(
        "webhook delivered",
        metadata: ["operation": "\(id)", "status": "\(response.status.code)"]
      )
    } catch {
      try await store.markRetry(id, reason: "\(error)")
    }
  }

  /// The webhook body: the operation, its source and the whole subscription.
  static func payload(_ delivery: EmulatorStore.Delivery) throws -> Data {
    struct Payload: Encodable {
      var operation: MarketplaceJSON.Operation
      var subscription: MarketplaceJSON.Subscription

      enum Keys: String, CodingKey { case subscription, purchaseToken }

      func encode(to encoder: any Encoder) throws {
        try operation.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(subscription, forKey: .subscription)
        try container.encodeNil(forKey: .purchaseToken)
      }
    }
    return try JSONEncoder().encode(
      Payload(operation: delivery.operation, subscription: delivery.subscription)
    )
  }
}
