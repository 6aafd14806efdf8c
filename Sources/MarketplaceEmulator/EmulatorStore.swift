public import Foundation
public import Logging
import PostgresNIO
public import SuitePersistence

/// The emulated marketplace's state in its own PostgreSQL database, with the marketplace's
/// rules for each change (docs/azure-saas-contract.md §3, §7), so it survives restarts.
public struct EmulatorStore: Sendable {
  /// Why the marketplace refuses a call, with the HTTP status it answers.
  public struct Refusal: Error, Equatable {
    public var status: Int
    public var code: String
    public var message: String

    static func badRequest(_ message: String) -> Refusal {
      Refusal(status: 400, code: "BadArgument", message: message)
    }
    static func notFound(_ message: String) -> Refusal {
      Refusal(status: 404, code: "EntityNotFound", message: message)
    }
    static func conflict(_ message: String) -> Refusal {
      Refusal(status: 409, code: "Conflict", message: message)
    }
  }

  let database: Database
  let logger: Logger
  public let catalog: OfferCatalog

  public init(database: Database, catalog: OfferCatalog, logger: Logger) {
    self.database = database
    self.catalog = catalog
    self.logger = logger
  }

  public static func migrations() throws -> [Migration] {
    return try Migration.load(component: "marketplace_emulator", bundle: .module)
  }

  // MARK: Signing key

  /// The stored signing key, made on first use (concurrent starters agree on one).
  public func signingKey() async throws -> (kid: String, pem: String) {
    let pem = try TokenIssuer.newPrivateKeyPEM()
    try await database.execute(
      """
      INSERT INTO signing_keys (kid, private_key_pem)
      SELECT \(UUID().uuidString.lowercased()), \(pem) WHERE NOT EXISTS (SELECT 1 FROM signing_keys)
      """
    )
    let rows = try await database.execute(
      "SELECT kid, private_key_pem FROM signing_keys ORDER BY created_at LIMIT 1"
    )
    for try await (kid, pem) in rows.decode((String, String).self) { return (kid, pem) }
    throw Refusal(status: 500, code: "InternalError", message: "no signing key")
  }

  // MARK: Subscriptions

  private static let columns = """
    id, name, offer_id, plan_id, quantity, status, purchaser_email, purchaser_object_id,
    purchaser_tenant_id, beneficiary_email, beneficiary_object_id, beneficiary_tenant_id,
    term_unit, term_start, term_end, auto_renew, is_test, created, last_modified
    """
  private typealias Row = (
    UUID, String, String, String, Int?, String, String, String, String, String, String, String,
    String, Date, Date, Bool, Bool, Date, Date
  )

  private func subscription(_ row: Row) -> MarketplaceJSON.Subscription {
    let stamp = MarketplaceJSON.timestamp
    return MarketplaceJSON.Subscription(
      id: row.0.uuidString.lowercased(),
      publisherId: catalog.publisherId,
      offerId: row.2,
      name: row.1,
      saasSubscriptionStatus: row.5,
      planId: row.3,
      quantity: row.4,
      beneficiary: .init(emailId: row.9, objectId: row.10, tenantId: row.11, puid: ""),
      purchaser: .init(emailId: row.6, objectId: row.7, tenantId: row.8, puid: ""),
      term: .init(
        termUnit: row.12,
        startDate: stamp(row.13),
        endDate: stamp(row.14),
        chargeDuration: nil
      ),
      autoRenew: row.15,
      isTest: row.16,
      isFreeTrial: false,
      allowedCustomerOperations: row.6 == row.9 ? ["Read", "Update", "Delete"] : ["Read"],
      sessionMode: "None",
      sandboxType: "None",
      created: stamp(row.17),
      lastModified: stamp(row.18)
    )
  }

  private func first(_ rows: Rows) async throws -> MarketplaceJSON.Subscription? {
    for try await row in rows.decode(Row.self) { return subscription(row) }
    return nil
  }

  /// A new purchase in PendingFulfillmentStart and its landing token.
  public func createPurchase(
    _ request: MarketplaceJSON.PurchaseRequest,
    tokenLifetime: TimeInterval,
    now: Date = Date()
  ) async throws -> (MarketplaceJSON.Subscription, token: String) {
    let planID = request.planId ?? catalog.plans[0].planId
    guard let plan = catalog.plan(planID) else {
      throw Refusal.badRequest("unknown plan \(planID)")
    }
    let quantity = plan.isPricePerSeat ? (request.quantity ?? plan.minQuantity ?? 1) : nil
    if let quantity, let max = plan.maxQuantity,
      quantity > max || quantity < (plan.minQuantity ?? 1)
    {
      throw Refusal.badRequest("quantity outside the plan's limits")
    }
    let purchaser =
      request.purchaser
      ?? .init(
        emailId: "buyer@contoso.example",
        objectId: UUID().uuidString.lowercased(),
        tenantId: UUID().uuidString.lowercased(),
        puid: ""
      )
    let beneficiary = request.beneficiary ?? purchaser
    let termUnit = request.termUnit ?? "P1M"
    let id = UUID()
    // Real tokens carry '+', '/' and '=': the gateway must URL-decode them.
    let token = Data((0..<48).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
    let termEnd = now.addingTimeInterval(termUnit == "P1Y" ? 365 * 86400 : 30 * 86400)
    let logger = self.logger
    let created = try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        INSERT INTO subscriptions (id, name, offer_id, plan_id, quantity, status, purchaser_email,
          purchaser_object_id, purchaser_tenant_id, beneficiary_email, beneficiary_object_id,
          beneficiary_tenant_id, term_unit, term_start, term_end)
        VALUES (\(id), \(request.name ?? "Guance subscription"), \(catalog.offerId), \(planID), \(quantity),
          'PendingFulfillmentStart', \(purchaser.emailId), \(purchaser.objectId), \(purchaser.tenantId),
          \(beneficiary.emailId), \(beneficiary.objectId), \(beneficiary.tenantId), \(termUnit), \(now), \(termEnd))
        RETURNING \(unescaped: Self.columns)
        """,
        logger: logger
      )
      var created: Row?
      for try await row in rows.decode(Row.self) { created = row }
      try await connection.execute(
        """
        INSERT INTO marketplace_tokens (token, subscription_id, expires_at)
        VALUES (\(token), \(id), \(now.addingTimeInterval(request.tokenLifetimeSeconds ?? tokenLifetime)))
        """,
        logger: logger
      )
      return created
    }
    guard let created else {
      throw Refusal(status: 500, code: "InternalError", message: "purchase not stored")
    }
    return (subscription(created), token)
  }

  /// The subscription a landing token names; 400 for unknown, malformed or expired tokens.
  public func resolve(
    token: String,
    now: Date = Date()
  ) async throws -> MarketplaceJSON.ResolvedSubscription {
    let found = try await first(
      database.execute(
        """
        SELECT \(unescaped: Self.columns) FROM subscriptions
        WHERE id = (SELECT subscription_id FROM marketplace_tokens WHERE token = \(token) AND expires_at > \(now))
        """
      )
    )
    guard let subscription = found else {
      // Only a refusal needs to know which: the token unknown, or known and past its time.
      let known = try await database.execute(
        "SELECT 1 FROM marketplace_tokens WHERE token = \(token)"
      )
      for try await _ in known { throw Refusal.badRequest("the marketplace token has expired") }
      throw Refusal.badRequest("the marketplace token is invalid")
    }
    return MarketplaceJSON.ResolvedSubscription(
      id: subscription.id,
      subscriptionName: subscription.name,
      offerId: subscription.offerId,
      planId: subscription.planId,
      quantity: subscription.quantity,
      subscription: subscription
    )
  }

  public func subscription(id: UUID) async throws -> MarketplaceJSON.Subscription? {
    try await first(
      database.execute("SELECT \(unescaped: Self.columns) FROM subscriptions WHERE id = \(id)")
    )
  }

  /// One page of every subscription (all states), ordered by id; the next page starts after `after`.
  public func subscriptions(after: UUID?, limit: Int) async throws -> [MarketplaceJSON.Subscription]
  {
    let start = after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.columns) FROM subscriptions WHERE id > \(start) ORDER BY id LIMIT \(limit)"
    )
    var page: [MarketplaceJSON.Subscription] = []
    for try await row in rows.decode(Row.self) { page.append(subscription(row)) }
    return page
  }

  /// Activate: plan and quantity must be the purchased ones; only once. One statement: the row
  /// is locked, changed and its activation recorded only when every rule below holds, and
  /// what it held before comes back for the answer.
  public func activate(id: UUID, planID: String?, quantity: Int?) async throws {
    let rows = try await database.execute(
      """
      WITH target AS (
        SELECT id, status, plan_id, quantity FROM subscriptions WHERE id = \(id) FOR UPDATE
      ), activated AS (
        UPDATE subscriptions s SET status = 'Subscribed', last_modified = now()
        FROM target t
        WHERE s.id = t.id AND t.status = 'PendingFulfillmentStart' AND t.plan_id = \(planID)::text
          AND (t.quantity = \(quantity)::bigint OR (t.quantity IS NULL AND COALESCE(\(quantity)::bigint, 0) = 0))
        RETURNING s.id, s.plan_id, s.quantity
      ), recorded AS (
        INSERT INTO activations (subscription_id, plan_id, quantity) SELECT id, plan_id, quantity FROM activated
      )
      SELECT status, plan_id, quantity, EXISTS (SELECT 1 FROM activated) FROM target
      """
    )
    var found: (String, String, Int?, Bool)?
    for try await row in rows.decode((String, String, Int?, Bool).self) { found = row }
    guard let (status, plan, purchased, activated) = found else {
      throw Refusal.notFound("subscription \(id) not found")
    }
    if activated { return }
    if status == "Unsubscribed" { throw Refusal.notFound("subscription \(id) is unsubscribed") }
    guard let planID else { throw Refusal.badRequest("planId is required") }
    guard planID == plan else {
      throw Refusal.badRequest("planId does not match the purchased plan")
    }
    guard quantity == purchased || (purchased == nil && (quantity == nil || quantity == 0)) else {
      throw Refusal.badRequest("quantity does not match the purchased quantity")
    }
    throw Refusal.badRequest("subscription \(id) is already \(status)")
  }

  /// How many times Activate succeeded for `id` (tests check "exactly once").
  public func activationCount(id: UUID) async throws -> Int {
    let rows = try await database.execute(
      "SELECT count(*)::int FROM activations WHERE subscription_id = \(id)"
    )
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }
}
