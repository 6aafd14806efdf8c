public import Foundation
public import MarketplaceClient
import PostgresNIO
import SuitePersistence

/// What operators see of subscriptions and their activations.
extension GatewayStore {
  private static let overviewColumns =
    "\(subscriptionColumns), s.data_kept_until, s.created_at, s.updated_at, g.step AS saga_step"

  private static func overviews(_ rows: Rows) async throws -> [SubscriptionOverview] {
    var overviews: [SubscriptionOverview] = []
    for try await row in rows {
      let columns = row.makeRandomAccess()
      overviews.append(
        SubscriptionOverview(
          subscription: try subscription(columns),
          activationStep: try columns["saga_step"].decode(String?.self).flatMap(SagaStep.init),
          dataKeptUntil: try columns["data_kept_until"].decode(Date?.self),
          createdAt: try columns["created_at"].decode(Date.self),
          updatedAt: try columns["updated_at"].decode(Date.self)
        )
      )
    }
    return overviews
  }

  public func subscriptions(
    status: String?,
    planID: String?,
    limit: Int
  ) async throws -> [SubscriptionOverview] {
    try await Self.overviews(
      database.execute(
        """
        SELECT \(unescaped: Self.overviewColumns)
        FROM marketplace_subscriptions s LEFT JOIN activation_sagas g ON g.subscription_id = s.id
        WHERE (\(status)::text IS NULL OR s.marketplace_status = \(status))
          AND (\(planID)::text IS NULL OR s.plan_id = \(planID))
        ORDER BY s.created_at DESC, s.id LIMIT \(limit)
        """
      )
    )
  }

  public func subscriptionOverview(_ id: String) async throws -> SubscriptionOverview? {
    try await Self.overviews(
      database.execute(
        """
        SELECT \(unescaped: Self.overviewColumns)
        FROM marketplace_subscriptions s LEFT JOIN activation_sagas g ON g.subscription_id = s.id
        WHERE s.id = \(id)
        """
      )
    ).first
  }

  public func auditEntries(subscriptionID: String) async throws -> [AuditEntry] {
    let rows = try await database.execute(
      """
      SELECT event, detail, correlation_id, at FROM subscription_audit
      WHERE subscription_id = \(subscriptionID) ORDER BY id
      """
    )
    var entries: [AuditEntry] = []
    for try await (event, detail, correlation, at) in rows.decode(
      (String, String, String, Date).self
    ) {
      entries.append(AuditEntry(event: event, detail: detail, correlationID: correlation, at: at))
    }
    return entries
  }

  public func sessions(subscriptionID: String) async throws -> [SessionOverview] {
    let rows = try await database.execute(
      """
      SELECT branch, created_at, expires_at FROM activation_sessions
      WHERE subscription_id = \(subscriptionID) ORDER BY created_at
      """
    )
    var sessions: [SessionOverview] = []
    for try await (branch, created, expires) in rows.decode((String, Date, Date).self) {
      sessions.append(SessionOverview(branch: branch, createdAt: created, expiresAt: expires))
    }
    return sessions
  }

  private static let sagaOverviewColumns =
    "g.subscription_id, \(sagaColumns), g.next_attempt_at, g.updated_at"

  private static func sagaOverviews(_ rows: Rows) async throws -> [SagaOverview] {
    var sagas: [SagaOverview] = []
    for try await row in rows {
      let columns = row.makeRandomAccess()
      let id = try columns["subscription_id"].decode(String.self)
      guard let record = try saga(subscriptionID: id, columns) else { continue }
      sagas.append(
        SagaOverview(
          record: record,
          nextAttemptAt: try columns["next_attempt_at"].decode(Date.self),
          updatedAt: try columns["updated_at"].decode(Date.self)
        )
      )
    }
    return sagas
  }

  public func sagaOverview(subscriptionID: String) async throws -> SagaOverview? {
    try await Self.sagaOverviews(
      database.execute(
        "SELECT \(unescaped: Self.sagaOverviewColumns) FROM activation_sagas g WHERE g.subscription_id = \(subscriptionID)"
      )
    ).first
  }

  /// Failed sagas, and unfinished ones last changed before `cutoff`, oldest first.
  public func stuckSagas(changedBefore cutoff: Date) async throws -> [SagaOverview] {
    try await Self.sagaOverviews(
      database.execute(
        """
        SELECT \(unescaped: Self.sagaOverviewColumns) FROM activation_sagas g
        WHERE g.step = 'failed' OR (g.step IN ('settling', 'activating') AND g.updated_at < \(cutoff))
        ORDER BY g.updated_at LIMIT 1000
        """
      )
    )
  }

  /// Makes a failed or waiting saga due now. A failed one starts again from settling (every
  /// step is idempotent: the billing center and the marketplace recognise a repeat). Nil when
  /// there is no unfinished saga for the subscription, or a live runner holds it now.
  public func retrySaga(subscriptionID: String, correlationID: String) async throws -> SagaOverview?
  {
    let rows = try await database.execute(
      """
      WITH upd AS (
        UPDATE activation_sagas g
        SET step = CASE WHEN g.step = 'failed' THEN 'settling' ELSE g.step END, next_attempt_at = now(),
          lease_until = NULL, runner = NULL, problem = NULL, updated_at = now()
        WHERE g.subscription_id = \(subscriptionID)
          AND (g.step = 'failed' OR \(unescaped: Self.sagaIsFree))
        RETURNING g.*),
      aud AS (
        INSERT INTO subscription_audit (subscription_id, event, detail, correlation_id)
        SELECT subscription_id, 'activation_retry_requested', step, \(correlationID) FROM upd)
      SELECT \(unescaped: Self.sagaOverviewColumns) FROM upd g
      """
    )
    return try await Self.sagaOverviews(rows).first
  }
}
