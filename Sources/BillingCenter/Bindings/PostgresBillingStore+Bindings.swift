import AccountAccess
public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Workspace bindings: which account pays for a workspace, and how it settles.
extension PostgresBillingStore {
  private static let bindingColumns = """
    b.workspace_id, b.billing_account_id, b.workspace_name, b.site, b.settlement,
    b.marketplace_subscription_id, b.valid_from
    """
  private typealias BindingRow = (UUID, UUID, String, String, String, String?, Date)

  private static func binding(_ row: BindingRow) throws -> WorkspaceBinding {
    guard let settlement = Settlement(method: row.4, subscriptionID: row.5) else {
      throw StoreInvariantError.unknownValue(row.4)
    }
    return WorkspaceBinding(
      workspaceID: row.0,
      billingAccountID: row.1,
      workspaceName: row.2,
      site: row.3,
      settlement: settlement,
      boundAt: row.6,
      status: nil
    )
  }

  /// The workspace's current binding, locked for the rest of the transaction.
  private static func currentBinding(
    workspaceID: UUID,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> WorkspaceBinding? {
    let rows = try await connection.execute(
      """
      SELECT \(unescaped: bindingColumns) FROM workspace_bindings b
      WHERE b.workspace_id = \(workspaceID) AND b.valid_to IS NULL
      FOR UPDATE
      """,
      logger: logger
    )
    for try await row in rows.decode(BindingRow.self) { return try binding(row) }
    return nil
  }

  /// Makes sure cloud settlement names a subscription of one of the account's cloud accounts:
  /// by linking it to `purchaser`'s cloud account first when the caller names one (then it is
  /// so by construction), otherwise by checking.
  private static func linkOrCheck(
    _ purchaser: CloudIdentity?,
    _ settlement: Settlement,
    of accountID: UUID,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws {
    guard let purchaser, let subscriptionID = settlement.subscriptionID else {
      try await checkSettlement(settlement, of: accountID, on: connection, logger: logger)
      return
    }
    let linked = try await linkIdentity(
      purchaser,
      to: accountID,
      subscriptionID: subscriptionID,
      on: connection,
      logger: logger
    )
    try refuseEnded(subscriptionID, status: linked.subscriptionStatus)
  }

  /// An unsubscribed subscription settles nothing more (its cancellation is final).
  private static func refuseEnded(_ subscriptionID: String, status: String?) throws {
    if status.flatMap(CloudSubscriptionStatus.init) == .unsubscribed {
      throw BillingError.subscriptionEnded(subscriptionID)
    }
  }

  /// Cloud settlement must name a subscription of one of the account's own cloud accounts.
  private static func checkSettlement(
    _ settlement: Settlement,
    of accountID: UUID,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws {
    guard let subscriptionID = settlement.subscriptionID else { return }
    let rows = try await connection.execute(
      """
      SELECT s.status FROM cloud_account_subscriptions s JOIN cloud_accounts c ON c.id = s.cloud_account_id
      WHERE s.marketplace_subscription_id = \(subscriptionID) AND c.billing_account_id = \(accountID)
      """,
      logger: logger
    )
    var status: String?
    for try await row in rows.decode(String.self) { status = row }
    guard let status else { throw BillingError.subscriptionNotLinked(subscriptionID) }
    try refuseEnded(subscriptionID, status: status)
  }

  private static func openBinding(
    workspace: (id: UUID, name: String, site: String),
    accountID: UUID,
    settlement: Settlement,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> WorkspaceBinding {
    let rows = try await connection.execute(
      """
      INSERT INTO workspace_bindings AS b (workspace_id, billing_account_id, workspace_name, site,
        settlement, marketplace_subscription_id)
      VALUES (\(workspace.id), \(accountID), \(workspace.name), \(workspace.site),
        \(settlement.method), \(settlement.subscriptionID))
      RETURNING \(unescaped: bindingColumns)
      """,
      logger: logger
    )
    for try await row in rows.decode(BindingRow.self) { return try binding(row) }
    throw StoreInvariantError.noRowReturned
  }

  public func bind(
    _ workspace: DirectoryWorkspace,
    to accountID: UUID,
    settlement: Settlement,
    linking purchaser: CloudIdentity?
  ) async throws -> WorkspaceBinding {
    let logger = self.logger
    do {
      return try await database.transaction { connection in
        try await Self.linkOrCheck(
          purchaser,
          settlement,
          of: accountID,
          on: connection,
          logger: logger
        )
        if let current = try await Self.currentBinding(
          workspaceID: workspace.id,
          on: connection,
          logger: logger
        ) {
          guard current.billingAccountID == accountID else {
            throw BillingError.workspaceBoundElsewhere(workspace.id.uuidString.lowercased())
          }
          guard current.settlement == settlement else {
            throw BillingError.alreadyBoundWithOtherSettlement(workspace.id.uuidString.lowercased())
          }
          return current
        }
        return try await Self.openBinding(
          workspace: (workspace.id, workspace.name, workspace.site),
          accountID: accountID,
          settlement: settlement,
          on: connection,
          logger: logger
        )
      }
    } catch let error as PSQLError where error.isUniqueViolation {
      // A concurrent bind won the race for the workspace: answer as if it had come first.
      return try await bind(workspace, to: accountID, settlement: settlement, linking: purchaser)
    }
  }

  /// The account's current bindings, and as history the workspaces whose cloud settlement ended
  /// with a cancelled subscription (their last binding, while nothing has bound them since).
  public func bindings(billingAccountID: UUID) async throws -> [WorkspaceBinding] {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.bindingColumns), b.valid_to FROM workspace_bindings b
      WHERE b.billing_account_id = \(billingAccountID) AND (b.valid_to IS NULL OR (
        b.settlement = 'cloud_account'
        AND EXISTS (
          SELECT 1 FROM cloud_account_subscriptions s
          WHERE s.marketplace_subscription_id = b.marketplace_subscription_id AND s.status = 'unsubscribed')
        AND NOT EXISTS (
          SELECT 1 FROM workspace_bindings later
          WHERE later.workspace_id = b.workspace_id AND later.valid_from > b.valid_from)))
      ORDER BY b.valid_from, b.workspace_id
      """
    )
    var bindings: [WorkspaceBinding] = []
    for try await row in rows.decode(
      (UUID, UUID, String, String, String, String?, Date, Date?).self
    ) {
      var binding = try Self.binding((row.0, row.1, row.2, row.3, row.4, row.5, row.6))
      binding.endedAt = row.7
      bindings.append(binding)
    }
    return bindings
  }

  /// One statement, so one round trip on the activation's path: lock the current binding,
  /// link the purchaser's subscription (or check it is the account's), close the binding and
  /// open the new one. Any refusal raises inside the statement (`billing_refuse`), which undoes
  /// the links it made; the rules are those of `bind`'s transaction.
  public func changeSettlement(
    workspaceID: UUID,
    of accountID: UUID,
    to settlement: Settlement,
    linking purchaser: CloudIdentity?
  ) async throws -> WorkspaceBinding {
    let subscriptionID = settlement.subscriptionID
    // Only a cloud settlement links a purchaser (the domain refuses a purchaser otherwise).
    let linking = subscriptionID == nil ? nil : purchaser
    do {
      let rows = try await database.execute(
        """
        WITH cur AS (
          SELECT \(unescaped: Self.bindingColumns),
            b.billing_account_id = \(accountID) AS ours,
            b.settlement = \(settlement.method)
              AND b.marketplace_subscription_id IS NOT DISTINCT FROM \(subscriptionID)::text AS same
          FROM workspace_bindings b
          WHERE b.workspace_id = \(workspaceID) AND b.valid_to IS NULL
          FOR UPDATE
        ), change AS (
          SELECT 1 FROM cur WHERE ours AND NOT same
        ), cloud AS (
          INSERT INTO cloud_accounts (id, provider, tenant_id, object_id, billing_account_id)
          SELECT \(UUID()), \(linking?.provider.rawValue)::text, \(linking?.tenantID)::text,
            \(linking?.objectID)::text, \(accountID)
          FROM change WHERE \(linking?.objectID)::text IS NOT NULL
          ON CONFLICT ON CONSTRAINT cloud_accounts_identity_key DO UPDATE SET provider = EXCLUDED.provider
          RETURNING id, billing_account_id
        ), subscription AS (
          INSERT INTO cloud_account_subscriptions (marketplace_subscription_id, cloud_account_id)
          SELECT \(subscriptionID)::text, cloud.id FROM cloud WHERE cloud.billing_account_id = \(accountID)
          ON CONFLICT (marketplace_subscription_id)
            DO UPDATE SET cloud_account_id = cloud_account_subscriptions.cloud_account_id
          RETURNING cloud_account_id
        ), verdict AS (
          SELECT CASE
            WHEN NOT EXISTS (SELECT 1 FROM cur WHERE ours) THEN 'workspace_not_bound'
            WHEN NOT EXISTS (SELECT 1 FROM change) OR \(subscriptionID)::text IS NULL THEN NULL
            WHEN EXISTS (
              SELECT 1 FROM cur
              WHERE cur.settlement = 'cloud_account' AND NOT EXISTS (
                SELECT 1 FROM cloud_account_subscriptions s
                WHERE s.marketplace_subscription_id = cur.marketplace_subscription_id AND s.status = 'unsubscribed')
            ) THEN 'workspace_settled_by_subscription'
            WHEN EXISTS (
              SELECT 1 FROM cloud_account_subscriptions s
              WHERE s.marketplace_subscription_id = \(subscriptionID)::text AND s.status = 'unsubscribed'
            ) THEN 'subscription_ended'
            WHEN \(linking?.objectID)::text IS NOT NULL THEN
              CASE WHEN (SELECT billing_account_id FROM cloud) = \(accountID)
                AND (SELECT cloud_account_id FROM subscription) = (SELECT id FROM cloud)
              THEN NULL ELSE 'cloud_account_linked_elsewhere' END
            WHEN NOT EXISTS (
              SELECT 1 FROM cloud_account_subscriptions s JOIN cloud_accounts c ON c.id = s.cloud_account_id
              WHERE s.marketplace_subscription_id = \(subscriptionID)::text AND c.billing_account_id = \(accountID)
            ) THEN 'subscription_not_linked'
          END AS refusal
        ), closed AS (
          -- The new binding is made from the closed one's row, so the old one is closed first
          -- and the workspace never has two current bindings, not even inside the statement.
          UPDATE workspace_bindings SET valid_to = clock_timestamp()
          WHERE workspace_id = \(workspaceID) AND valid_to IS NULL
            AND EXISTS (SELECT 1 FROM change) AND (SELECT refusal FROM verdict) IS NULL
          RETURNING workspace_id, billing_account_id, workspace_name, site
        ), opened AS (
          INSERT INTO workspace_bindings AS b (workspace_id, billing_account_id, workspace_name, site,
            settlement, marketplace_subscription_id)
          SELECT workspace_id, billing_account_id, workspace_name, site, \(settlement.method),
            \(subscriptionID)::text
          FROM closed
          RETURNING \(unescaped: Self.bindingColumns)
        )
        SELECT billing_refuse(v.refusal), r.* FROM verdict v LEFT JOIN (
          SELECT * FROM opened
          UNION ALL SELECT workspace_id, billing_account_id, workspace_name, site, settlement,
            marketplace_subscription_id, valid_from FROM cur WHERE ours AND same
        ) r ON true
        """
      )
      typealias Refused = (Bool, UUID, UUID, String, String, String, String?, Date)
      for try await row in rows.decode(Refused.self) {
        return try Self.binding((row.1, row.2, row.3, row.4, row.5, row.6, row.7))
      }
      throw StoreInvariantError.noRowReturned
    } catch let error as PSQLError {
      throw Self.refusal(error, workspaceID: workspaceID, subscriptionID: subscriptionID) ?? error
    }
  }

  /// The refusal a statement raised through `billing_refuse`, as the domain names it.
  private static func refusal(
    _ error: PSQLError,
    workspaceID: UUID,
    subscriptionID: String?
  ) -> BillingError? {
    guard error.sqlState == "GB001" else { return nil }
    switch error.serverInfo?[.message] {
    case "workspace_not_bound": return .workspaceNotBound(workspaceID.uuidString.lowercased())
    case "cloud_account_linked_elsewhere": return .cloudAccountLinkedElsewhere
    case "subscription_not_linked": return .subscriptionNotLinked(subscriptionID ?? "")
    case "subscription_ended": return .subscriptionEnded(subscriptionID ?? "")
    case "workspace_settled_by_subscription":
      return .workspaceSettledBySubscription(workspaceID.uuidString.lowercased())
    default: return nil
    }
  }

  public func unbind(workspaceID: UUID, from accountID: UUID) async throws {
    let logger = self.logger
    try await database.transaction { connection in
      guard
        let current = try await Self.currentBinding(
          workspaceID: workspaceID,
          on: connection,
          logger: logger
        ),
        current.billingAccountID == accountID
      else { throw BillingError.workspaceNotBound(workspaceID.uuidString.lowercased()) }
      try await connection.execute(
        """
        UPDATE workspace_bindings SET valid_to = clock_timestamp()
        WHERE workspace_id = \(workspaceID) AND valid_to IS NULL
        """,
        logger: logger
      )
    }
  }
}
