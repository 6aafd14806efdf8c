import Foundation
public import Hummingbird
import HTTPTypes
import NIOCore

/// The emulated marketplace's HTTP API: the Entra token endpoint and key set, the SaaS
/// Fulfillment API v2 and the emulator's own admin endpoints.
public struct EmulatorRoutes: Sendable {
  private let store: EmulatorStore
  private let issuer: TokenIssuer
  private let settings: EmulatorSettings

  public init(store: EmulatorStore, issuer: TokenIssuer, settings: EmulatorSettings) {
    self.store = store
    self.issuer = issuer
    self.settings = settings
  }

  public func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.middlewares.add(RequestIDMiddleware())
    addIdentityRoutes(to: router)
    let api = router.group("api").add(middleware: APIVersionMiddleware()).add(
      middleware: BearerMiddleware(issuer: issuer, tenantID: settings.tenantID, clientID: settings.clientID))
    addFulfillmentRoutes(to: api)
    addAdminRoutes(to: router.group("admin"))
    return router
  }

  // MARK: Entra ID stand-in

  private func addIdentityRoutes(to router: Router<BasicRequestContext>) {
    router.post(":tenant/oauth2/token") { request, context -> Response in
      let tenant = try context.parameters.require("tenant")
      let form = try await Self.form(request)
      guard tenant == settings.tenantID, form["grant_type"] == "client_credentials",
        form["client_id"] == settings.clientID, form["client_secret"] == settings.clientSecret
      else {
        return try Self.json(
          ["error": "invalid_client", "error_description": "unknown tenant, client or secret"], status: .unauthorized)
      }
      guard form["resource"] == TokenIssuer.marketplaceResource || form["scope"] == "\(TokenIssuer.marketplaceResource)/.default" else {
        return try Self.json(
          ["error": "invalid_resource", "error_description": "resource must be the marketplace API"], status: .badRequest)
      }
      let (token, expires) = try await issuer.accessToken(tenantID: tenant, clientID: settings.clientID)
      let seconds = Int(expires.timeIntervalSince1970)
      return try Self.json([
        "token_type": "Bearer", "expires_in": "3600", "expires_on": "\(seconds)",
        "not_before": "\(seconds - 3600)", "resource": TokenIssuer.marketplaceResource, "access_token": token,
      ])
    }
    router.get(":tenant/.well-known/openid-configuration") { _, context -> Response in
      let tenant = try context.parameters.require("tenant")
      let base = "http://\(settings.host):\(context.localPort ?? settings.port)"
      return try Self.json([
        "issuer": "https://sts.windows.net/\(tenant)/",
        "jwks_uri": "\(base)/\(tenant)/discovery/keys",
        "token_endpoint": "\(base)/\(tenant)/oauth2/token",
        "id_token_signing_alg_values_supported": "RS256",
      ])
    }
    router.get(":tenant/discovery/keys") { _, _ -> Response in
      Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try issuer.jwks())))
    }
  }

  // MARK: SaaS Fulfillment API v2

  private func addFulfillmentRoutes(to api: RouterGroup<BasicRequestContext>) {
    api.post("saas/subscriptions/resolve") { request, _ -> Response in
      guard let token = request.headers[HTTPField.Name("x-ms-marketplace-token")!], !token.isEmpty else {
        return Self.refusal(.init(status: 400, code: "BadArgument", message: "x-ms-marketplace-token is required"))
      }
      return try await Self.answer { try Self.json(try await store.resolve(token: token)) }
    }
    api.post("saas/subscriptions/:id/activate") { request, context -> Response in
      let id = try Self.subscriptionID(context)
      let body = try? await request.decode(as: MarketplaceJSON.PlanAndQuantity.self, context: context)
      return try await Self.answer {
        try await store.activate(id: id, planID: body?.planId, quantity: body?.quantity)
        return Response(status: .ok)
      }
    }
    api.get("saas/subscriptions") { request, _ -> Response in
      let after = request.uri.queryParameters["continuationToken"].flatMap { UUID(uuidString: String($0)) }
      let page = try await store.subscriptions(after: after, limit: 100)
      var next: String?
      if page.count == 100, let last = page.last {
        next = "\(request.uri.path)?continuationToken=\(last.id)&api-version=2018-08-31"
      }
      return try Self.json(MarketplaceJSON.SubscriptionPage(subscriptions: page, nextLink: next))
    }
    api.get("saas/subscriptions/:id") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      guard let subscription = try await store.subscription(id: id) else {
        return Self.refusal(.notFound("subscription \(id) not found"))
      }
      return try Self.json(subscription)
    }
    api.get("saas/subscriptions/:id/listAvailablePlans") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      guard try await store.subscription(id: id) != nil else { return Response(status: .ok) }
      return try Self.json(
        MarketplaceJSON.Plans(
          plans: store.catalog.plans.map {
            .init(
              planId: $0.planId, displayName: $0.displayName, isPrivate: false, description: $0.displayName,
              minQuantity: $0.minQuantity, maxQuantity: $0.maxQuantity, hasFreeTrials: false,
              isPricePerSeat: $0.isPricePerSeat, isStopSell: false, market: "US")
          }))
    }
  }

  // MARK: Emulator administration

  private func addAdminRoutes(to admin: RouterGroup<BasicRequestContext>) {
    admin.post("purchases") { request, context -> Response in
      let body = (try? await request.decode(as: MarketplaceJSON.PurchaseRequest.self, context: context))
        ?? MarketplaceJSON.PurchaseRequest()
      return try await Self.answer {
        let (subscription, token) = try await store.createPurchase(body, tokenLifetime: settings.tokenLifetime)
        // Percent-encoded as a browser receives it: '+', '/' and '=' escaped.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let encoded = token.addingPercentEncoding(withAllowedCharacters: unreserved) ?? token
        let separator = settings.landingURL.contains("?") ? "&" : "?"
        let landing = "\(settings.landingURL)\(separator)token=\(encoded)"
        return try Self.json(
          MarketplaceJSON.Purchase(
            subscriptionId: subscription.id, token: token, landingUrl: landing),
          status: .created)
      }
    }
    admin.get("subscriptions/:id/activations") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      return try Self.json(["activations": try await store.activationCount(id: id)])
    }
  }

  // MARK: Helpers

  static func subscriptionID(_ context: BasicRequestContext) throws -> UUID {
    guard let id = UUID(uuidString: try context.parameters.require("id")) else {
      throw HTTPError(.notFound, message: "no such subscription")
    }
    return id
  }

  static func answer(_ body: () async throws -> Response) async throws -> Response {
    do {
      return try await body()
    } catch let error as EmulatorStore.Refusal {
      return refusal(error)
    }
  }

  static func refusal(_ refusal: EmulatorStore.Refusal) -> Response {
    let body = MarketplaceJSON.ErrorBody(error: .init(code: refusal.code, message: refusal.message))
    return (try? json(body, status: HTTPResponse.Status(code: refusal.status))) ?? Response(status: .internalServerError)
  }

  static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONEncoder().encode(value)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  /// An `application/x-www-form-urlencoded` body.
  static func form(_ request: Request) async throws -> [String: String] {
    let buffer = try await request.body.collect(upTo: 64 * 1024)
    let text = String(buffer: buffer)
    var fields: [String: String] = [:]
    for pair in text.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1).map {
        $0.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
      }
      if parts.count == 2 { fields[parts[0]] = parts[1] }
    }
    return fields
  }
}

extension BasicRequestContext {
  /// The port this server listens on, for absolute URLs in discovery documents.
  var localPort: Int? { nil }
}
