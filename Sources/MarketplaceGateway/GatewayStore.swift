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

  /// The billing account the gateway has learnt a purchaser is linked to, if any.
  public func knownLink(of purchaser: MarketplaceIdentity) async throws -> LinkedBillingAccount? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.linkColumns) FROM purchaser_links l
      WHERE l.tenant_id = \(purchaser.tenantID) AND l.object_id = \(purchaser.objectID)
      """
    )
    for try await row in rows { return try Self.link(row.makeRandomAccess()) }
    return nil
  }

  /// Records what the marketplace said about a subscription and opens a session for it on
  /// the branch `link` implies, remembering the link, with audit rows — one statement, so all
  /// of it or none.
  public func recordResolution(
    _ subscription: MarketplaceSubscription,
    link: LinkedBillingAccount?,
    sessionDigest: [UInt8],
    sessionLifetime: Duration,
    correlationID: String
  ) async throws -> RecordedResolution {
    let lifetime = Int(sessionLifetime.components.seconds)
    let status = subscription.status.name
    let branch = link == nil ? "not_linked" : "already_linked"
    let rows = try await database.execute(
      """
      WITH sub AS (
        INSERT INTO marketplace_subscriptions (id, name, offer_id, plan_id, quantity, marketplace_status,
          purchaser_email, purchaser_tenant_id, purchaser_object_id, term_unit)
        VALUES (\(subscription.id), \(subscription.name), \(subscription.offerID), \(subscription.planID),
          \(subscription.quantity), \(status), \(subscription.purchaser.email),
          \(subscription.purchaser.tenantID), \(subscription.purchaser.objectID), \(subscription.termUnit))
        ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, plan_id = EXCLUDED.plan_id,
          quantity = EXCLUDED.quantity, marketplace_status = EXCLUDED.marketplace_status,
          term_unit = EXCLUDED.term_unit, updated_at = now()
        RETURNING (xmax = 0) AS inserted),
      ses AS (
        INSERT INTO activation_sessions (id_digest, subscription_id, expires_at, branch)
        VALUES (\(Data(sessionDigest)), \(subscription.id), now() + make_interval(secs => \(lifetime)), \(branch))
        RETURNING expires_at),
      lnk AS (
        INSERT INTO purchaser_links (tenant_id, object_id, billing_account_id, billing_username)
        SELECT \(subscription.purchaser.tenantID), \(subscription.purchaser.objectID), \(link?.id)::uuid,
          \(link?.username)::text
        WHERE \(link != nil)
        ON CONFLICT (tenant_id, object_id) DO NOTHING),
      aud AS (
        INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
        SELECT \(subscription.id), 'subscription_recorded', \(status), \(correlationID) FROM sub WHERE sub.inserted
        UNION ALL SELECT \(subscription.id), 'session_opened', '', \(correlationID))
      SELECT ses.expires_at, \(unescaped: Self.sagaColumns)
      FROM ses LEFT JOIN activation_sagas g ON g.subscription_id = \(subscription.id)
      """
    )
    for try await row in rows {
      let columns = row.makeRandomAccess()
      return RecordedResolution(
        expiresAt: try columns["expires_at"].decode(Date.self),
        saga: try Self.saga(subscriptionID: subscription.id, columns)
      )
    }
    throw GatewayStoreError.noRowReturned
  }

  public func session(digest: [UInt8]) async throws -> StoredSession? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.subscriptionColumns), a.expires_at, a.binding_username, a.binding_challenge_id,
        a.workspace_challenge_id, a.branch, \(unescaped: Self.sagaColumns), \(unescaped: Self.linkColumns)
      FROM activation_sessions a JOIN marketplace_subscriptions s ON s.id = a.subscription_id
        LEFT JOIN activation_sagas g ON g.subscription_id = s.id
        LEFT JOIN purchaser_links l ON l.tenant_id = s.purchaser_tenant_id AND l.object_id = s.purchaser_object_id
      WHERE a.id_digest = \(Data(digest)) AND a.expires_at > now()
      """
    )
    for try await row in rows {
      let columns = row.makeRandomAccess()
      let subscription = try Self.subscription(columns)
      return StoredSession(
        subscription: subscription,
        expiresAt: try columns["expires_at"].decode(Date.self),
        bindingUsername: try columns["binding_username"].decode(String?.self),
        bindingChallengeID: try columns["binding_challenge_id"].decode(String?.self),
        workspaceChallengeID: try columns["workspace_challenge_id"].decode(String?.self),
        saga: try Self.saga(subscriptionID: subscription.id, columns),
        link: try Self.link(columns),
        startedLinked: try columns["branch"].decode(String.self) == "already_linked"
      )
    }
    return nil
  }

  /// Keeps the billing account a purchaser is linked to (links never move).
  public func rememberLink(
    tenantID: String,
    objectID: String,
    to account: LinkedBillingAccount
  ) async throws {
    try await database.execute(
      """
      INSERT INTO purchaser_links (tenant_id, object_id, billing_account_id, billing_username)
      VALUES (\(tenantID), \(objectID), \(account.id), \(account.username))
      ON CONFLICT (tenant_id, object_id) DO NOTHING
      """
    )
  }

  /// A link the activation itself made (binding or registering), with its audit row — one
  /// statement.
  public func recordLink(
    of purchaser: MarketplaceIdentity,
    to account: LinkedBillingAccount,
    subscriptionID: String,
    event: String,
    correlationID: String
  ) async throws {
    try await database.execute(
      """
      WITH lnk AS (
        INSERT INTO purchaser_links (tenant_id, object_id, billing_account_id, billing_username)
        VALUES (\(purchaser.tenantID), \(purchaser.objectID), \(account.id), \(account.username))
        ON CONFLICT (tenant_id, object_id) DO NOTHING)
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      VALUES (\(subscriptionID), \(event), \(account.username), \(correlationID))
      """
    )
  }

  static let linkColumns =
    "l.billing_account_id AS linked_account_id, l.billing_username AS linked_username"

  static func link(_ row: PostgresRandomAccessRow) throws -> LinkedBillingAccount? {
    guard let id = try row["linked_account_id"].decode(UUID?.self),
      let username = try row["linked_username"].decode(String?.self)
    else { return nil }
    return LinkedBillingAccount(id: id, username: username)
  }

  /// Remembers the binding code just sent for this session.
  public func recordBindingChallenge(
    digest: [UInt8],
    subscriptionID: String,
    username: String,
    challengeID: String,
    correlationID: String
  ) async throws {
    let logger = self.logger
    try await database.transaction { connection in
      try await connection.execute(
        """
        UPDATE activation_sessions SET binding_username = \(username), binding_challenge_id = \(challengeID)
        WHERE id_digest = \(Data(digest))
        """,
        logger: logger
      )
      try await Self.audit(
        subscriptionID,
        "binding_code_sent",
        username,
        correlationID,
        connection,
        logger
      )
    }
  }

  /// Remembers the workspace code just sent for this session: only this session may use it.
  public func recordWorkspaceChallenge(
    digest: [UInt8],
    subscriptionID: String,
    challengeID: String,
    correlationID: String
  ) async throws {
    let logger = self.logger
    try await database.transaction { connection in
      try await connection.execute(
        "UPDATE activation_sessions SET workspace_challenge_id = \(challengeID) WHERE id_digest = \(Data(digest))",
        logger: logger
      )
      try await Self.audit(
        subscriptionID,
        "workspace_code_sent",
        "",
        correlationID,
        connection,
        logger
      )
    }
  }

  /// Appends one event to a subscription's audit trail.
  public func audit(
    subscriptionID: String,
    _ event: String,
    detail: String,
    correlationID: String
  )
    async throws
  {
    let logger = self.logger
    try await database.client.withConnection { connection in
      try await Self.audit(subscriptionID, event, detail, correlationID, connection, logger)
    }
  }

  /// The audit trail of a subscription, oldest first (event names).
  public func auditTrail(subscriptionID: String) async throws -> [String] {
    try await auditEntries(subscriptionID: subscriptionID).map(\.event)
  }

  static func audit(
    _ subscriptionID: String,
    _ event: String,
    _ detail: String,
    _ correlationID: String,
    _ connection: PostgresConnection,
    _ logger: Logger
  ) async throws {
    try await connection.execute(
      """
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      VALUES (\(subscriptionID), \(event), \(detail), \(correlationID))
      """,
      logger: logger
    )
  }

  static let subscriptionColumns = """
    s.id, s.name, s.offer_id, s.plan_id, s.quantity, s.marketplace_status, s.purchaser_email,
    s.purchaser_tenant_id, s.purchaser_object_id, s.term_unit, s.term_start, s.term_end, s.auto_renew
    """

  /// A subscription from a row holding `subscriptionColumns`.
  static func subscription(_ row: PostgresRandomAccessRow) throws -> MarketplaceSubscription {
    func text(_ column: String) throws -> String { try row[column].decode(String.self) }
    let purchaser = MarketplaceIdentity(
      email: try text("purchaser_email"),
      objectID: try text("purchaser_object_id"),
      tenantID: try text("purchaser_tenant_id")
    )
    return MarketplaceSubscription(
      id: try text("id"),
      name: try text("name"),
      offerID: try text("offer_id"),
      planID: try text("plan_id"),
      quantity: try row["quantity"].decode(Int?.self),
      status: MarketplaceSubscriptionStatus(try text("marketplace_status")),
      purchaser: purchaser,
      beneficiary: purchaser,
      termUnit: try text("term_unit"),
      termStart: try row["term_start"].decode(Date?.self),
      termEnd: try row["term_end"].decode(Date?.self),
      autoRenew: try row["auto_renew"].decode(Bool?.self) ?? true,
      isTest: false
    )
  }
}

enum GatewayStoreError: Error {
  case noRowReturned
  case unknownValue(String)
}

/// One PostgreSQL store keeps every flow's data; each flow sees it through its own protocol.
extension GatewayStore: ActivationStore, LifecycleStore, AdminStore, MeteringPlanStore {
  public func exclusively<Result: Sendable>(
    _ lock: Int64,
    _ body: () async throws -> Result
  ) async throws -> Result? {
    try await database.exclusively(lock, body)
  }
}
