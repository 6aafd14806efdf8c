import Foundation
import HTTPTypes
public import Hummingbird
import JWTKit
import NIOCore
import SuiteKit

/// The emulated marketplace's HTTP API: the Entra token endpoint and key set, the SaaS
/// Fulfillment API v2 and the emulator's own admin endpoints.
public struct EmulatorRoutes: Sendable {
  private let store: EmulatorStore
  private let issuer: TokenIssuer
  private let settings: EmulatorSettings
  private let webhook: WebhookTarget
  private let faults = FaultPlan()

  public init(
    store: EmulatorStore,
    issuer: TokenIssuer,
    settings: EmulatorSettings,
    webhook: WebhookTarget
  ) {
    self.store = store
    self.issuer = issuer
    self.settings = settings
    self.webhook = webhook
  }

  public func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.middlewares.add(RequestIDMiddleware())
    addIdentityRoutes(to: router)
    let api = router.group("api").add(middleware: FaultMiddleware(plan: faults))
      .add(middleware: APIVersionMiddleware()).add(
        middleware: BearerMiddleware(
          issuer: issuer,
          tenantID: settings.tenantID,
          clientID: settings.clientID
        )
      )
    addFulfillmentRoutes(to: api)
    addOperationRoutes(to: api)
    addMeteringRoutes(to: api)
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
          ["error": "invalid_client", "error_description": "unknown tenant, client or secret"],
          status: .unauthorized
        )
      }
      guard
        form["resource"] == TokenIssuer.marketplaceResource
          || form["scope"] == "\(TokenIssuer.marketplaceResource)/.default"
      else {
        return try Self.json(
          [
            "error": "invalid_resource",
            "error_description": "resource must be the marketplace API",
          ],
          status: .badRequest
        )
      }
      let (token, expires) = try await issuer.accessToken(
        tenantID: tenant,
        clientID: settings.clientID
      )
      let seconds = Int(expires.timeIntervalSince1970)
      return try Self.json([
        "token_type": "Bearer", "expires_in": "3600", "expires_on": "\(seconds)",
        "not_before": "\(seconds - 3600)", "resource": TokenIssuer.marketplaceResource,
        "access_token": token,
      ])
    }
    router.get(":tenant/.well-known/openid-configuration") { request, context -> Response in
      let tenant = try context.parameters.require("tenant")
      // The address the caller reached us at (the configured port may be 0: any free one).
      let base = "http://\(request.head.authority ?? "\(settings.host):\(settings.port)")"
      return try Self.json([
        "issuer": "https://sts.windows.net/\(tenant)/",
        "jwks_uri": "\(base)/\(tenant)/discovery/keys",
        "token_endpoint": "\(base)/\(tenant)/oauth2/token",
        "id_token_signing_alg_values_supported": "RS256",
      ])
    }
    router.get(":tenant/discovery/keys") { _, _ -> Response in
      Response(
        status: .ok,
        headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(bytes: try issuer.jwks()))
      )
    }
  }

  // MARK: SaaS Fulfillment API v2

  private func addFulfillmentRoutes(to api: RouterGroup<BasicRequestContext>) {
    api.post("saas/subscriptions/resolve") { request, _ -> Response in
      guard let token = request.headers[HTTPField.Name("x-ms-marketplace-token")!], !token.isEmpty
      else {
        return Self.refusal(
          .init(status: 400, code: "BadArgument", message: "x-ms-marketplace-token is required")
        )
      }
      return try await Self.answer { try Self.json(try await store.resolve(token: token)) }
    }
    api.post("saas/subscriptions/:id/activate") { request, context -> Response in
      let id = try Self.subscriptionID(context)
      let body = try? await request.decode(
        as: MarketplaceJSON.PlanAndQuantity.self,
        context: context
      )
      return try await Self.answer {
        try await store.activate(id: id, planID: body?.planId, quantity: body?.quantity)
        return Response(status: .ok)
      }
    }
    api.get("saas/subscriptions") { request, _ -> Response in
      let after = request.uri.queryParameters["continuationToken"].flatMap {
        UUID(uuidString: String($0))
      }
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
              planId: $0.planId,
              displayName: $0.displayName,
              isPrivate: false,
              description: $0.displayName,
              minQuantity: $0.minQuantity,
              maxQuantity: $0.maxQuantity,
              hasFreeTrials: false,
              isPricePerSeat: $0.isPricePerSeat,
              isStopSell: false,
              market: "US"
            )
          }
        )
      )
    }
  }

  // MARK: Operations

  private func addOperationRoutes(to api: RouterGroup<BasicRequestContext>) {
    api.patch("saas/subscriptions/:id") { request, context -> Response in
      let id = try Self.subscriptionID(context)
      let body = try? await request.decode(
        as: MarketplaceJSON.PlanAndQuantity.self,
        context: context
      )
      return try await Self.answer {
        Self.accepted(
          subscription: id,
          operation: try await store.change(id: id, planID: body?.planId, quantity: body?.quantity)
        )
      }
    }
    api.delete("saas/subscriptions/:id") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      return try await Self.answer {
        Self.accepted(subscription: id, operation: try await store.cancel(id: id))
      }
    }
    api.get("saas/subscriptions/:id/operations") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      return try await Self.answer {
        try Self.json(
          MarketplaceJSON.Operations(
            operations: try await store.operations(subscriptionID: id, outstandingOnly: true)
          )
        )
      }
    }
    api.get("saas/subscriptions/:id/operations/:operation") { _, context -> Response in
      let id = try Self.subscriptionID(context)
      guard let operationID = UUID(uuidString: try context.parameters.require("operation")),
        let operation = try await store.operation(subscriptionID: id, operationID: operationID)
      else { return Self.refusal(.notFound("operation not found")) }
      return try Self.json(operation)
    }
    api.patch("saas/subscriptions/:id/operations/:operation") { request, context -> Response in
      let id = try Self.subscriptionID(context)
      let body = try? await request.decode(
        as: MarketplaceJSON.OperationUpdate.self,
        context: context
      )
      guard let operationID = UUID(uuidString: try context.parameters.require("operation")) else {
        return Self.refusal(.notFound("operation not found"))
      }
      guard let status = body?.status, ["Success", "Failure"].contains(status) else {
        return Self.refusal(.badRequest("status must be Success or Failure"))
      }
      return try await Self.answer {
        try await store.acknowledge(
          subscriptionID: id,
          operationID: operationID,
          success: status == "Success"
        )
        return Response(status: .ok)
      }
    }
  }

  /// 202 with `Operation-Location`, as for every publisher-started change.
  static func accepted(subscription: UUID, operation: UUID) -> Response {
    let location =
      "/api/saas/subscriptions/\(subscription.uuidString.lowercased())/operations/\(operation.uuidString.lowercased())?api-version=2018-08-31"
    return Response(status: .accepted, headers: [HTTPField.Name("Operation-Location")!: location])
  }

  // MARK: Metering

  private func addMeteringRoutes(to api: RouterGroup<BasicRequestContext>) {
    api.post("usageEvent") { request, context -> Response in
      guard
        let event = try? await request.decode(
          as: EmulatorStore.UsageEventRequest.self,
          context: context
        )
      else {
        return try Self.badArgument("the body is not a usage event")
      }
      let result = try await store.recordUsage(event, now: settings.usageClock.now())
      switch result.status {
      case "Accepted": return try Self.json(Self.usageBody(result))
      case "Duplicate":
        return try Self.json(
          [
            "additionalInfo": AnyEncodable(["acceptedMessage": AnyEncodable(Self.usageBody(result))]
            ),
            "message": AnyEncodable("This usage event already exist."),
            "code": AnyEncodable("Conflict"),
          ],
          status: .conflict
        )
      default: return try Self.badArgument(result.message ?? result.status, status: result.status)
      }
    }
    api.post("batchUsageEvent") { request, context -> Response in
      guard
        let batch = try? await request.decode(
          as: MarketplaceJSON.UsageBatch.self,
          context: context
        ),
        (1...25).contains(batch.request.count)
      else { return try Self.badArgument("the batch must hold 1 to 25 usage events") }
      var results: [[String: AnyEncodable]] = []
      for event in batch.request {
        let result = try await store.recordUsage(event, now: settings.usageClock.now())
        var body = Self.usageBody(result)
        if result.status != "Accepted" {
          body["error"] = AnyEncodable([
            "code": AnyEncodable(result.status == "Duplicate" ? "Conflict" : result.status),
            "message": AnyEncodable(result.message ?? result.status),
          ])
        }
        results.append(body)
      }
      return try Self.json(["count": AnyEncodable(results.count), "result": AnyEncodable(results)])
    }
    api.get("usageEvents") { request, _ -> Response in
      guard let text = request.uri.queryParameters["usageStartDate"],
        let start = EmulatorStore.parseStartDate(String(text))
      else {
        return try Self.badArgument("usageStartDate is required")
      }
      let summary = try await store.usageSummary(from: start)
      return try Self.json(summary.map { row in row.mapValues { AnyEncodable(databaseValue: $0) } })
    }
  }

  static func usageBody(_ result: EmulatorStore.UsageEventResult) -> [String: AnyEncodable] {
    var body: [String: AnyEncodable] = [
      "status": AnyEncodable(result.status),
      "resourceId": AnyEncodable(result.request.resourceId ?? ""),
      "quantity": AnyEncodable(result.request.quantity ?? 0),
      "dimension": AnyEncodable(result.request.dimension ?? ""),
      "effectiveStartTime": AnyEncodable(result.request.effectiveStartTime ?? ""),
      "planId": AnyEncodable(result.request.planId ?? ""),
    ]
    if let id = result.usageEventId { body["usageEventId"] = AnyEncodable(id) }
    if let time = result.messageTime {
      body["messageTime"] = AnyEncodable(MarketplaceJSON.timestamp(time))
    }
    return body
  }

  static func badArgument(_ message: String, status code: String = "BadArgument") throws -> Response
  {
    try json(
      [
        "code": AnyEncodable("BadArgument"),
        "message": AnyEncodable("One or more errors have occurred."),
        "target": AnyEncodable("usageEventRequest"),
        "details": AnyEncodable([["code": code, "message": message, "target": "usageEventRequest"]]
        ),
      ],
      status: .badRequest
    )
  }

  // MARK: Emulator administration

  private func addAdminRoutes(to admin: RouterGroup<BasicRequestContext>) {
    admin.post("purchases") { request, context -> Response in
      let body =
        (try? await request.decode(as: MarketplaceJSON.PurchaseRequest.self, context: context))
        ?? MarketplaceJSON.PurchaseRequest()
      return try await Self.answer {
        let (subscription, token) = try await store.createPurchase(
          body,
          tokenLifetime: settings.tokenLifetime
        )
        // Percent-encoded as a browser receives it: '+', '/' and '=' escaped.
        let unreserved = CharacterSet(
          charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )
        let encoded = token.addingPercentEncoding(withAllowedCharacters: unreserved) ?? token
        let separator = settings.landingURL.contains("?") ? "&" : "?"
        let landing = "\(settings.landingURL)\(separator)token=\(encoded)"
        return try Self.json(
          MarketplaceJSON.Purchase(
            subscriptionId: subscription.id,
            token: token,
            landingUrl: landing
          ),
          status: .created
        )
      }
    }
    admin.post("subscriptions/:id/events") { request, context -> Response in
      let id = try Self.subscriptionID(context)
      let body = try? await request.decode(as: MarketplaceJSON.EventRequest.self, context: context)
      if body?.unknownAction == true, let name = body?.action, (1...64).contains(name.count),
        name.allSatisfy({ $0.isLetter }), EmulatorStore.MarketplaceAction(rawValue: name) == nil
      {
        return try await Self.answer {
          try Self.json(try await store.notice(name, id: id), status: .created)
        }
      }
      guard let name = body?.action, let action = EmulatorStore.MarketplaceAction(rawValue: name)
      else {
        return Self.refusal(
          .badRequest(
            "action must be one of \(EmulatorStore.MarketplaceAction.allCases.map(\.rawValue))"
          )
        )
      }
      return try await Self.answer {
        try Self.json(
          try await store.trigger(action, id: id, planID: body?.planId, quantity: body?.quantity),
          status: .created
        )
      }
    }
    // The next `count` API calls fail with `status` and/or are delayed by `delayMilliseconds`.
    admin.post("faults") { request, context -> Response in
      guard let fault = try? await request.decode(as: FaultPlan.Fault.self, context: context) else {
        return Self.refusal(.badRequest("expected {count, status?, delayMilliseconds?}"))
      }
      faults.set(fault)
      return Response(status: .noContent)
    }
    // Technical configuration's "Connection webhook": where operations are posted.
    admin.post("webhook") { request, context -> Response in
      struct Target: Decodable { var url: String? }
      guard let target = try? await request.decode(as: Target.self, context: context) else {
        return Self.refusal(
          .badRequest("expected {\"url\": \"http://...\"} (null or empty: no webhook)")
        )
      }
      webhook.set(target.url.flatMap { $0.isEmpty ? nil : $0 })
      return Response(status: .noContent)
    }
    // A webhook token signed with the emulator's key, standard claims changed as asked, so a
    // publisher's checks can be tested one claim at a time.
    admin.post("webhook-token") { request, context -> Response in
      struct Changes: Decodable {
        var aud: String?
        var tid: String?
        var appid: String?
        var azp: String?
        var iss: String?
        var expiresInSeconds: Double?
        var notBeforeInSeconds: Double?
        /// Claims to leave out: "exp", "aud", "tid", "appid", "azp", "iss", "nbf".
        var omit: [String]?
      }
      let changes = (try? await request.decode(as: Changes.self, context: context)) ?? Changes()
      let now = Date()
      var claims = WebhookClaims.standard(
        audience: settings.clientID,
        tenantID: settings.tenantID,
        now: now
      )
      if let aud = changes.aud { claims.aud = .init(value: aud) }
      if let tid = changes.tid { claims.tid = tid }
      if let appid = changes.appid { claims.appid = appid }
      if let azp = changes.azp { claims.azp = azp }
      if let iss = changes.iss { claims.iss = .init(value: iss) }
      if let seconds = changes.expiresInSeconds {
        claims.exp = .init(value: now.addingTimeInterval(seconds))
      }
      if let seconds = changes.notBeforeInSeconds {
        claims.nbf = .init(value: now.addingTimeInterval(seconds))
      }
      for claim in changes.omit ?? [] {
        switch claim {
        case "exp": claims.exp = nil
        case "aud": claims.aud = nil
        case "tid": claims.tid = nil
        case "appid": claims.appid = nil
        case "azp": claims.azp = nil
        case "iss": claims.iss = nil
        case "nbf": claims.nbf = nil
        default: return Self.refusal(.badRequest("cannot omit \(claim)"))
        }
      }
      return try Self.json(["token": try await issuer.sign(claims)])
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
    return (try? json(body, status: HTTPResponse.Status(code: refusal.status)))
      ?? Response(status: .internalServerError)
  }

  static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONEncoder().encode(value)
    return Response(
      status: status,
      headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data))
    )
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
