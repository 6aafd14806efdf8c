public import Foundation
public import Logging
public import MarketplaceClient
import PostgresNIO
public import SuitePersistence

/// The gateway's subscriptions, activation sessions and audit trail in PostgreSQL.
public struct GatewayStore: Sendable {
  let database: Database
  let logger: Logger

  public init(database: Database, logger: Logger) {
    self.database = database
    self.logger = logger
  }

  public static func migrations() throws -> [Migration] {
    return try Migration.load(component: "marketplace_gateway", bundle: .module)
  }

  /// Records what the marketplace said about a subscription and opens a session for it, in one
  /// transaction, with audit rows for both.
  public func recordResolution(
    _ subscription: MarketplaceSubscription, sessionDigest: [UInt8], sessionLifetime: Duration, correlationID: String
  ) async throws -> Date {
    let logger = self.logger
    let lifetime = Int(sessionLifetime.components.seconds)
    return try await database.transaction { connection in
      let upserted = try await connection.query(
        """
        INSERT INTO marketplace_subscriptions (id, name, offer_id, plan_id, quantity, marketplace_status,
          purchaser_email, purchaser_tenant_id, purchaser_object_id, term_unit)
        VALUES (\(subscription.id), \(subscription.name), \(subscription.offerID), \(subscription.planID),
          \(subscription.quantity), \(Self.status(subscription.status)), \(subscription.purchaser.email),
          \(subscription.purchaser.tenantID), \(subscription.purchaser.objectID), \(subscription.termUnit))
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, plan_id = EXCLUDED.plan_id,
          quantity = EXCLUDED.quantity, marketplace_status = EXCLUDED.marketplace_status,
          term_unit = EXCLUDED.term_unit, updated_at = now()
        RETURNING (xmax = 0)
        """, logger: logger)
      var inserted = false
      for try await isNew in upserted.decode(Bool.self) { inserted = isNew }
      let sessions = try await connection.query(
        """
        INSERT INTO activation_sessions (id_digest, subscription_id, expires_at)
        VALUES (\(Data(sessionDigest)), \(subscription.id), now() + make_interval(secs => \(lifetime)))
        RETURNING expires_at
        """, logger: logger)
      var expiresAt: Date?
      for try await date in sessions.decode(Date.self) { expiresAt = date }
      if inserted {
        try await Self.audit(subscription.id, "subscription_recorded", Self.status(subscription.status), correlationID, connection, logger)
      }
      try await Self.audit(subscription.id, "session_opened", "", correlationID, connection, logger)
      guard let expiresAt else { throw GatewayStoreError.noRowReturned }
      return expiresAt
    }
  }

  /// A live session: its subscription as last recorded, expiry, pending binding code and the
  /// subscription's activation saga, if one has begun.
  public struct StoredSession: Sendable {
    public var subscription: MarketplaceSubscription
    public var expiresAt: Date
    public var bindingUsername: String?
    public var bindingChallengeID: String?
    public var saga: SagaRecord?
  }

  public func session(digest: [UInt8]) async throws -> StoredSession? {
    let rows = try await database.query(
      """
      SELECT \(unescaped: Self.subscriptionColumns), a.expires_at, a.binding_username, a.binding_challenge_id,
        \(unescaped: Self.sagaColumns)
      FROM activation_sessions a JOIN marketplace_subscriptions s ON s.id = a.subscription_id
        LEFT JOIN activation_sagas g ON g.subscription_id = s.id
      WHERE a.id_digest = \(Data(digest)) AND a.expires_at > now()
      """)
    for try await row in rows {
      let columns = row.makeRandomAccess()
      let subscription = try Self.subscription(columns)
      return StoredSession(
        subscription: subscription, expiresAt: try columns["expires_at"].decode(Date.self),
        bindingUsername: try columns["binding_username"].decode(String?.self),
        bindingChallengeID: try columns["binding_challenge_id"].decode(String?.self),
        saga: try Self.saga(subscriptionID: subscription.id, columns))
    }
    return nil
  }

  /// Remembers the binding code just sent for this session.
  public func recordBindingChallenge(
    digest: [UInt8], subscriptionID: String, username: String, challengeID: String, correlationID: String
  ) async throws {
    let logger = self.logger
    try await database.transaction { connection in
      try await connection.query(
        """
        UPDATE activation_sessions SET binding_username = \(username), binding_challenge_id = \(challengeID)
        WHERE id_digest = \(Data(digest))
        """, logger: logger)
      try await Self.audit(subscriptionID, "binding_code_sent", username, correlationID, connection, logger)
    }
  }

  /// Appends one event to a subscription's audit trail.
  public func audit(subscriptionID: String, _ event: String, detail: String = "", correlationID: String)
    async throws
  {
    try await database.query(
      """
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      VALUES (\(subscriptionID), \(event), \(detail), \(correlationID))
      """)
  }

  /// The audit trail of a subscription, oldest first (event names).
  public func auditTrail(subscriptionID: String) async throws -> [String] {
    let rows = try await database.query(
      "SELECT event FROM subscription_audit WHERE subscription_id = \(subscriptionID) ORDER BY id")
    var events: [String] = []
    for try await event in rows.decode(String.self) { events.append(event) }
    return events
  }

  static func audit(
    _ subscriptionID: String, _ event: String, _ detail: String, _ correlationID: String,
    _ connection: PostgresConnection, _ logger: Logger
  ) async throws {
    try await connection.query(
      """
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      VALUES (\(subscriptionID), \(event), \(detail), \(correlationID))
      """, logger: logger)
  }

  static let subscriptionColumns = """
    s.id, s.name, s.offer_id, s.plan_id, s.quantity, s.marketplace_status, s.purchaser_email,
    s.purchaser_tenant_id, s.purchaser_object_id, s.term_unit
    """

  /// A subscription from a row holding `subscriptionColumns`.
  static func subscription(_ row: PostgresRandomAccessRow) throws -> MarketplaceSubscription {
    func text(_ column: String) throws -> String { try row[column].decode(String.self) }
    let purchaser = MarketplaceIdentity(
      email: try text("purchaser_email"), objectID: try text("purchaser_object_id"),
      tenantID: try text("purchaser_tenant_id"))
    return MarketplaceSubscription(
      id: try text("id"), name: try text("name"), offerID: try text("offer_id"), planID: try text("plan_id"),
      quantity: try row["quantity"].decode(Int?.self),
      status: MarketplaceSubscriptionStatus(try text("marketplace_status")), purchaser: purchaser,
      beneficiary: purchaser, termUnit: try text("term_unit"), termStart: nil, termEnd: nil, autoRenew: true,
      isTest: false)
  }

  static func status(_ status: MarketplaceSubscriptionStatus) -> String {
    switch status {
    case .notStarted: "NotStarted"
    case .pendingFulfillmentStart: "PendingFulfillmentStart"
    case .subscribed: "Subscribed"
    case .suspended: "Suspended"
    case .unsubscribed: "Unsubscribed"
    case .other(let raw): raw
    }
  }
}

enum GatewayStoreError: Error {
  case noRowReturned
}
