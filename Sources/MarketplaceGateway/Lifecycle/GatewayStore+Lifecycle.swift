public import Foundation
public import MarketplaceClient
import PostgresNIO
import SuitePersistence

/// Lifecycle operations (stored first, then done) and the subscription as the suite follows it.
extension GatewayStore {
  static let operationColumns = """
    o.id, o.subscription_id, o.action, o.plan_id, o.quantity, o.request_source, o.source, o.marketplace_time,
    o.state, o.outcome, o.problem, o.deliveries, o.attempts, o.received_at, o.finished_at
    """

  static func operations(_ rows: Rows) async throws -> [LifecycleOperation] {
    var operations: [LifecycleOperation] = []
    for try await row in rows {
      let columns = row.makeRandomAccess()
      let rawSource = try columns["source"].decode(String.self)
      let rawState = try columns["state"].decode(String.self)
      guard let source = LifecycleOperation.Source(rawValue: rawSource),
        let state = LifecycleOperation.State(rawValue: rawState)
      else { throw GatewayStoreError.unknownValue("\(rawSource)/\(rawState)") }
      var operation = LifecycleOperation(
        id: try columns["id"].decode(String.self),
        subscriptionID: try columns["subscription_id"].decode(String.self),
        action: try columns["action"].decode(String.self),
        planID: try columns["plan_id"].decode(String?.self),
        quantity: try columns["quantity"].decode(Int?.self),
        requestSource: try columns["request_source"].decode(String?.self),
        source: source,
        marketplaceTime: try columns["marketplace_time"].decode(Date?.self)
      )
      operation.state = state
      operation.outcome = try columns["outcome"].decode(String?.self)
      operation.problem = try columns["problem"].decode(String?.self)
      operation.deliveries = try columns["deliveries"].decode(Int.self)
      operation.attempts = try columns["attempts"].decode(Int.self)
      operation.receivedAt = try columns["received_at"].decode(Date.self)
      operation.finishedAt = try columns["finished_at"].decode(Date?.self)
      operations.append(operation)
    }
    return operations
  }

  /// Stores an operation before anything is done about it, due at `notBefore` (now when nil).
  /// A redelivery is counted and changes nothing else, except that an operation the
  /// marketplace did not know when asked is looked at again. Returns true when it is new.
  @discardableResult
  public func recordOperation(
    _ operation: LifecycleOperation,
    payload: String,
    notBefore: Date?
  )
    async throws -> Bool
  {
    let rows = try await database.execute(
      """
      INSERT INTO lifecycle_operations AS o (id, subscription_id, action, plan_id, quantity, request_source,
        source, marketplace_time, payload, next_attempt_at)
      VALUES (\(operation.id), \(operation.subscriptionID), \(operation.action), \(operation.planID),
        \(operation.quantity), \(operation.requestSource), \(operation.source.rawValue),
        \(operation.marketplaceTime), \(payload), COALESCE(\(notBefore), now()))
      ON CONFLICT (id) DO UPDATE SET deliveries = o.deliveries + 1,
        state = CASE WHEN o.state = 'unverified' THEN 'received' ELSE o.state END,
        next_attempt_at = CASE WHEN o.state = 'unverified' THEN now() ELSE o.next_attempt_at END,
        finished_at = CASE WHEN o.state = 'unverified' THEN NULL ELSE o.finished_at END
      RETURNING (xmax = 0)
      """
    )
    for try await inserted in rows.decode(Bool.self) { return inserted }
    throw GatewayStoreError.noRowReturned
  }

  /// Takes due operations for the process whose presence is `runner`, at most one per
  /// subscription and none of a subscription whose other operation is being done, oldest
  /// first. An operation whose process died is due again at once; `lease` bounds how long a
  /// live but stuck worker keeps one.
  public func claimDueOperations(
    limit: Int,
    runner: Int32,
    lease: Duration
  ) async throws -> [LifecycleOperation] {
    let seconds = Double(lease.components.seconds)
    let logger = self.logger
    // Claims by replicas take turns (a transaction lock, then the claim in a statement of its
    // own): each sees the leases the previous one committed, so no subscription has two
    // operations under way at once.
    return try await database.transaction { connection in
      try await connection.execute(
        "SELECT pg_advisory_xact_lock(\(Self.claimLock))",
        logger: logger
      )
      return try await Self.operations(
        connection.execute(
          """
          WITH candidates AS (
            SELECT o.id, o.subscription_id, o.received_at FROM lifecycle_operations o
            WHERE o.state = 'received' AND o.next_attempt_at <= now() AND NOT (\(unescaped: Self.operationIsHeld("o")))
              AND NOT EXISTS (
                SELECT 1 FROM lifecycle_operations b
                WHERE b.subscription_id = o.subscription_id AND b.state = 'received'
                  AND \(unescaped: Self.operationIsHeld("b")))
            ORDER BY o.received_at, o.id LIMIT \(limit * 4) FOR UPDATE SKIP LOCKED),
          due AS (
            SELECT DISTINCT ON (subscription_id) id FROM candidates ORDER BY subscription_id, received_at, id)
          UPDATE lifecycle_operations o
          SET lease_until = now() + make_interval(secs => \(seconds)), runner = \(runner), attempts = o.attempts + 1
          FROM due WHERE o.id = due.id
          RETURNING \(unescaped: Self.operationColumns)
          """,
          logger: logger
        )
      )
    }
  }

  /// SQL true while a live worker does the operation (aliased `alias`): its lease runs and its
  /// process is present.
  static func operationIsHeld(_ alias: String) -> String {
    "\(alias).lease_until IS NOT NULL AND \(alias).lease_until >= now() AND \(Presence.isAlive("\(alias).runner"))"
  }

  /// The advisory lock that serializes claims of lifecycle operations.
  static let claimLock: Int64 = 0x6761_7465_6c63_0001

  /// Ends an operation with what was done.
  public func finishOperation(
    _ id: String,
    as state: LifecycleOperation.State,
    outcome: String
  ) async throws {
    try await database.execute(
      """
      UPDATE lifecycle_operations SET state = \(state.rawValue), outcome = \(outcome), problem = NULL,
        lease_until = NULL, runner = NULL, finished_at = now()
      WHERE id = \(id)
      """
    )
  }

  /// Leaves an operation for another attempt after `delay`.
  public func retryOperation(_ id: String, after delay: Duration, problem: String) async throws {
    try await database.execute(
      """
      UPDATE lifecycle_operations SET problem = \(problem), lease_until = NULL, runner = NULL,
        next_attempt_at = now() + make_interval(secs => \(Double(delay.components.seconds)))
      WHERE id = \(id)
      """
    )
  }

  /// Operations, newest first, filtered as asked.
  public func lifecycleOperations(
    subscriptionID: String?,
    state: LifecycleOperation.State?,
    limit: Int
  )
    async throws -> [LifecycleOperation]
  {
    try await Self.operations(
      database.execute(
        """
        SELECT \(unescaped: Self.operationColumns) FROM lifecycle_operations o
        WHERE (\(subscriptionID)::text IS NULL OR o.subscription_id = \(subscriptionID))
          AND (\(state?.rawValue)::text IS NULL OR o.state = \(state?.rawValue))
        ORDER BY o.received_at DESC, o.id DESC LIMIT \(limit)
        """
      )
    )
  }

  /// Makes an operation due again (an operator's replay); nil when there is no such
  /// operation or a worker has it now (it is not taken from under it).
  public func replayOperation(_ id: String) async throws -> LifecycleOperation? {
    try await Self.operations(
      database.execute(
        """
        UPDATE lifecycle_operations o SET state = 'received', next_attempt_at = now(), lease_until = NULL,
          runner = NULL, finished_at = NULL, problem = NULL
        WHERE o.id = \(id) AND NOT (\(unescaped: Self.operationIsHeld("o")))
        RETURNING \(unescaped: Self.operationColumns)
        """
      )
    ).first
  }

  /// Whether a worker holds the operation now.
  public func operationIsLeased(_ id: String) async throws -> Bool {
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.operationIsHeld("o")) FROM lifecycle_operations o WHERE o.id = \(id)"
    )
    for try await leased in rows.decode(Bool.self) { return leased }
    return false
  }

  // MARK: The followed subscription

  /// The subscription as the gateway last recorded it, with when its data may go (after
  /// Unsubscribe).
  public func followedSubscription(
    _ id: String
  ) async throws -> (MarketplaceSubscription, dataKeptUntil: Date?)? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.subscriptionColumns), s.data_kept_until
      FROM marketplace_subscriptions s WHERE s.id = \(id)
      """
    )
    for try await row in rows {
      let columns = row.makeRandomAccess()
      return (try Self.subscription(columns), try columns["data_kept_until"].decode(Date?.self))
    }
    return nil
  }

  /// The plans of those of `ids` the gateway follows, in one query.
  public func planIDs(of ids: [String]) async throws -> [String: String] {
    let rows = try await database.execute(
      "SELECT id, plan_id FROM marketplace_subscriptions WHERE id = ANY(\(ids))"
    )
    var plans: [String: String] = [:]
    for try await (id, plan) in rows.decode((String, String).self) { plans[id] = plan }
    return plans
  }

  /// Records the subscription as the marketplace has it now (inserting it if the gateway never
  /// saw it), and an audit row — one statement. A retention date, once set, stays.
  public func recordFollowed(
    _ subscription: MarketplaceSubscription,
    dataKeptUntil: Date?,
    event: String,
    detail: String,
    correlationID: String
  ) async throws {
    try await database.execute(
      """
      WITH sub AS (
        INSERT INTO marketplace_subscriptions AS s (id, name, offer_id, plan_id, quantity, marketplace_status,
          purchaser_email, purchaser_tenant_id, purchaser_object_id, term_unit, term_start, term_end, auto_renew,
          data_kept_until)
        VALUES (\(subscription.id), \(subscription.name), \(subscription.offerID), \(subscription.planID),
          \(subscription.quantity), \(subscription.status.name), \(subscription.purchaser.email),
          \(subscription.purchaser.tenantID), \(subscription.purchaser.objectID), \(subscription.termUnit),
          \(subscription.termStart), \(subscription.termEnd), \(subscription.autoRenew), \(dataKeptUntil))
        ON CONFLICT (id) DO UPDATE SET plan_id = EXCLUDED.plan_id, quantity = EXCLUDED.quantity,
          -- Unsubscribed is final: an older snapshot of the marketplace cannot undo it.
          marketplace_status = CASE WHEN s.marketplace_status = 'Unsubscribed' THEN s.marketplace_status
            ELSE EXCLUDED.marketplace_status END,
          term_unit = EXCLUDED.term_unit,
          term_start = EXCLUDED.term_start, term_end = EXCLUDED.term_end, auto_renew = EXCLUDED.auto_renew,
          data_kept_until = COALESCE(s.data_kept_until, EXCLUDED.data_kept_until), updated_at = now()
        RETURNING s.id)
      INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
      SELECT id, \(event), \(detail), \(correlationID) FROM sub
      """
    )
  }

  /// Up to `limit` subscriptions (Subscribed or Suspended) whose outstanding operations have
  /// been asked for longest ago (never first).
  public func subscriptionsDueForOperationCheck(limit: Int) async throws -> [String] {
    let rows = try await database.execute(
      """
      SELECT id FROM marketplace_subscriptions
      WHERE marketplace_status IN ('Subscribed', 'Suspended')
      ORDER BY operations_checked_at NULLS FIRST, id LIMIT \(limit)
      """
    )
    var ids: [String] = []
    for try await id in rows.decode(String.self) { ids.append(id) }
    return ids
  }

  public func markOperationsChecked(subscriptionID: String) async throws {
    try await database.execute(
      "UPDATE marketplace_subscriptions SET operations_checked_at = now() WHERE id = \(subscriptionID)"
    )
  }

  /// Those of `ids` the gateway follows, with their recorded status, plan and quantity.
  public func followedSubscriptions(ids: [String]) async throws -> [String: MarketplaceSubscription]
  {
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.subscriptionColumns) FROM marketplace_subscriptions s WHERE s.id = ANY(\(ids))"
    )
    var subscriptions: [String: MarketplaceSubscription] = [:]
    for try await row in rows {
      let subscription = try Self.subscription(row.makeRandomAccess())
      subscriptions[subscription.id] = subscription
    }
    return subscriptions
  }
}
