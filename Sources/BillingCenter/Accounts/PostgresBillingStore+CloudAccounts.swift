import AccountAccess
public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Cloud accounts: marketplace identities linked to billing center accounts, by code or directly.
extension PostgresBillingStore {
  private static let cloudColumns = """
    c.id, c.provider, c.tenant_id, c.object_id, c.billing_account_id, c.linked_at,
    COALESCE((SELECT array_agg(s.marketplace_subscription_id ORDER BY s.first_seen_at, s.marketplace_subscription_id)
      FROM cloud_account_subscriptions s WHERE s.cloud_account_id = c.id), '{}')
    """
  private typealias CloudRow = (UUID, String, String, String, UUID, Date, [String])

  private static func cloudAccount(_ row: CloudRow) throws -> CloudAccount {
    guard let provider = CloudIdentity.Provider(rawValue: row.1) else {
      throw StoreInvariantError.unknownValue(row.1)
    }
    return CloudAccount(
      id: row.0,
      identity: CloudIdentity(provider: provider, tenantID: row.2, objectID: row.3),
      billingAccountID: row.4,
      subscriptionIDs: row.6,
      linkedAt: row.5
    )
  }

  public func cloudAccount(identity: CloudIdentity) async throws -> (CloudAccount, BillingAccount)?
  {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.cloudColumns), \(unescaped: Self.accountColumns)
      FROM cloud_accounts c JOIN billing_accounts a ON a.id = c.billing_account_id
      WHERE c.provider = \(identity.provider.rawValue) AND c.tenant_id = \(identity.tenantID)
        AND c.object_id = \(identity.objectID)
      """
    )
    // postgres-nio decodes flat tuples only: the cloud account's columns, then the account's.
    typealias Joined = (
      UUID, String, String, String, UUID, Date, [String],
      UUID, String, String, String?, String, String, String, String, String, Date
    )
    for try await r in rows.decode(Joined.self) {
      let cloud = try Self.cloudAccount((r.0, r.1, r.2, r.3, r.4, r.5, r.6))
      return (cloud, Self.account((r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14, r.15, r.16)))
    }
    return nil
  }

  public func cloudAccounts(billingAccountID: UUID) async throws -> [CloudAccount] {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.cloudColumns) FROM cloud_accounts c
      WHERE c.billing_account_id = \(billingAccountID) ORDER BY c.linked_at, c.id
      """
    )
    var accounts: [CloudAccount] = []
    for try await row in rows.decode(CloudRow.self) { accounts.append(try Self.cloudAccount(row)) }
    return accounts
  }

  public func linkCloudAccount(
    _ identity: CloudIdentity,
    to accountID: UUID,
    subscriptionID: String?
  )
    async throws -> CloudAccount
  {
    let logger = self.logger
    return try await database.transaction { connection in
      try await Self.link(
        identity,
        to: accountID,
        subscriptionID: subscriptionID,
        on: connection,
        logger: logger
      )
    }
  }

  public func linkCloudAccount(
    _ identity: CloudIdentity,
    subscriptionID: String?,
    redeeming redemption: BindingCodeRedemption
  ) async throws -> (BillingAccount, CloudAccount) {
    let logger = self.logger
    return try await challenges.redeem(
      challengeID: redemption.challengeID,
      code: redemption.code,
      subject: "username:\(redemption.username)",
      purpose: Self.bindingPurpose
    ) { connection, accountID in
      let cloud = try await Self.link(
        identity,
        to: accountID,
        subscriptionID: subscriptionID,
        on: connection,
        logger: logger
      )
      let rows = try await connection.execute(
        "SELECT \(unescaped: Self.accountColumns) FROM billing_accounts a WHERE a.id = \(accountID)",
        logger: logger
      )
      guard let account = try await Self.firstAccount(rows) else {
        throw StoreInvariantError.noRowReturned
      }
      return (account, cloud)
    }
  }

  /// Links within the caller's transaction and returns the cloud account.
  static func link(
    _ identity: CloudIdentity,
    to accountID: UUID,
    subscriptionID: String?,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> CloudAccount {
    let cloudID = try await linkIdentity(
      identity,
      to: accountID,
      subscriptionID: subscriptionID,
      on: connection,
      logger: logger
    ).cloudID
    let cloudRows = try await connection.execute(
      "SELECT \(unescaped: cloudColumns) FROM cloud_accounts c WHERE c.id = \(cloudID)",
      logger: logger
    )
    for try await row in cloudRows.decode(CloudRow.self) { return try cloudAccount(row) }
    throw StoreInvariantError.noRowReturned
  }

  /// Links within the caller's transaction; returns the cloud account's id and, when a
  /// subscription is named, its status. Concurrent links of one identity serialise on its
  /// unique key: the upsert takes the row's lock, so the loser sees the winner's row and is a
  /// no-op or a conflict. The subscription is recorded in the same statement, from the
  /// upsert's row, and only when that row is the account's.
  static func linkIdentity(
    _ identity: CloudIdentity,
    to accountID: UUID,
    subscriptionID: String?,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> (cloudID: UUID, subscriptionStatus: String?) {
    let rows = try await connection.execute(
      """
      WITH cloud AS (
        INSERT INTO cloud_accounts (id, provider, tenant_id, object_id, billing_account_id)
        VALUES (\(UUID()), \(identity.provider.rawValue), \(identity.tenantID), \(identity.objectID), \(accountID))
        ON CONFLICT ON CONSTRAINT cloud_accounts_identity_key DO UPDATE SET provider = EXCLUDED.provider
        RETURNING id, billing_account_id
      ), subscription AS (
        INSERT INTO cloud_account_subscriptions (marketplace_subscription_id, cloud_account_id)
        SELECT \(subscriptionID)::text, cloud.id FROM cloud
        WHERE \(subscriptionID)::text IS NOT NULL AND cloud.billing_account_id = \(accountID)
        ON CONFLICT (marketplace_subscription_id) DO UPDATE SET cloud_account_id = cloud_account_subscriptions.cloud_account_id
        RETURNING cloud_account_id, status
      )
      SELECT cloud.id, cloud.billing_account_id, (SELECT cloud_account_id FROM subscription),
        (SELECT status FROM subscription)
      FROM cloud
      """,
      logger: logger
    )
    var found: (UUID, UUID, UUID?, String?)?
    for try await row in rows.decode((UUID, UUID, UUID?, String?).self) { found = row }
    guard let (cloudID, owner, holder, status) = found else {
      throw StoreInvariantError.noRowReturned
    }
    guard owner == accountID else { throw BillingError.cloudAccountLinkedElsewhere }
    // A marketplace subscription has one purchaser.
    if subscriptionID != nil, holder != cloudID { throw BillingError.cloudAccountLinkedElsewhere }
    return (cloudID, status)
  }
}
