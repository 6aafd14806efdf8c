import AccountAccess
public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Subscription status: the marketplace subscriptions' status over time.
extension PostgresBillingStore {
  public func setSubscriptionStatus(
    subscriptionID: String,
    to status: CloudSubscriptionStatus,
    at: Date
  )
    async throws -> SubscriptionStatusChange
  {
    let logger = self.logger
    return try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        SELECT status, status_changed_at FROM cloud_account_subscriptions
        WHERE marketplace_subscription_id = \(subscriptionID) FOR UPDATE
        """,
        logger: logger
      )
      var found: (String, Date?)?
      for try await row in rows.decode((String, Date?).self) { found = row }
      guard let (raw, changedAt) = found else {
        throw BillingError.subscriptionUnknown(subscriptionID)
      }
      guard let current = CloudSubscriptionStatus(rawValue: raw) else {
        throw StoreInvariantError.unknownValue(raw)
      }

      // Unsubscribed is final; the same status again is a repeat. Either way: what applies now.
      if current == .unsubscribed || current == status {
        let workspaces = try await Self.workspaces(
          settledThrough: subscriptionID,
          status: current,
          since: changedAt,
          on: connection,
          logger: logger
        )
        return SubscriptionStatusChange(changed: false, status: current, workspaceIDs: workspaces)
      }
      switch status {
      case .suspended:
        try await connection.execute(
          """
          INSERT INTO subscription_suspensions (marketplace_subscription_id, suspended_from)
          VALUES (\(subscriptionID), \(at))
          """,
          logger: logger
        )
      case .active, .unsubscribed:
        try await connection.execute(
          """
          UPDATE subscription_suspensions SET suspended_until = GREATEST(\(at), suspended_from)
          WHERE marketplace_subscription_id = \(subscriptionID) AND suspended_until IS NULL
          """,
          logger: logger
        )
      }
      if status == .unsubscribed {
        // The cloud settlement ends: usage from `at` on is kept, bound to nobody.
        try await connection.execute(
          """
          UPDATE workspace_bindings SET valid_to = GREATEST(\(at), valid_from)
          WHERE marketplace_subscription_id = \(subscriptionID) AND valid_to IS NULL
          """,
          logger: logger
        )
      }
      try await connection.execute(
        """
        UPDATE cloud_account_subscriptions SET status = \(status.rawValue), status_changed_at = \(at)
        WHERE marketplace_subscription_id = \(subscriptionID)
        """,
        logger: logger
      )
      let workspaces = try await Self.workspaces(
        settledThrough: subscriptionID,
        status: status,
        since: at,
        on: connection,
        logger: logger
      )
      return SubscriptionStatusChange(changed: true, status: status, workspaceIDs: workspaces)
    }
  }

  /// Active or suspended: the workspaces bound through the subscription now. Unsubscribed:
  /// those whose binding through it ended when it did.
  private static func workspaces(
    settledThrough subscriptionID: String,
    status: CloudSubscriptionStatus,
    since: Date?,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> [UUID] {
    let rows = try await connection.execute(
      """
      SELECT DISTINCT workspace_id FROM workspace_bindings
      WHERE marketplace_subscription_id = \(subscriptionID)
        AND (CASE WHEN \(status == .unsubscribed) THEN valid_to >= \(since) ELSE valid_to IS NULL END)
      ORDER BY workspace_id
      """,
      logger: logger
    )
    var workspaces: [UUID] = []
    for try await id in rows.decode(UUID.self) { workspaces.append(id) }
    return workspaces
  }
}
