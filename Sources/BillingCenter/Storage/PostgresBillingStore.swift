public import AccountAccess
import AccountKit
public import Foundation
public import Logging
import Mailer
import PostgresNIO
public import SuitePersistence

/// `BillingStore` on PostgreSQL.
public struct PostgresBillingStore: BillingStore {
  private let database: Database
  private let challenges: EmailChallenges
  private let logger: Logger

  public init(database: Database, logger: Logger) {
    self.database = database
    self.challenges = EmailChallenges(database: database, logger: logger)
    self.logger = logger
  }

  /// The billing center's schema, with the mail outbox, sessions and codes beside it.
  public static func migrations() throws -> [Migration] {
    return try MailOutbox.migrations() + AccountAccessSchema.migrations()
      + Migration.load(component: "billing_center", bundle: .module)
  }

  /// The purpose binding codes are issued for.
  static let bindingPurpose = "bind_cloud_account"

  // MARK: Billing accounts

  private static let accountColumns = """
    a.id, a.username, a.email, a.phone, a.company_name, a.industry, a.region, a.contact_name,
    a.description, a.created_at
    """
  private typealias AccountRow = (
    UUID, String, String, String?, String, String, String, String, String, Date
  )

  private static func account(_ row: AccountRow) -> BillingAccount {
    BillingAccount(
      id: row.0,
      username: row.1,
      email: row.2,
      phone: row.3,
      company: CompanyInfo(
        companyName: row.4,
        industry: row.5,
        region: row.6,
        contactName: row.7,
        description: row.8
      ),
      createdAt: row.9
    )
  }

  private static func firstAccount(_ rows: Rows) async throws -> BillingAccount? {
    for try await row in rows.decode(AccountRow.self) { return account(row) }
    return nil
  }

  public func insertAccount(_ new: NewBillingAccount) async throws -> BillingAccount {
    do {
      let rows = try await database.execute(
        """
        INSERT INTO billing_accounts AS a (id, username, email, phone, password_hash, company_name,
          industry, region, contact_name, description, creation_key)
        VALUES (\(UUID()), \(new.username), \(new.email), \(new.phone), \(new.passwordHash),
          \(new.company.companyName), \(new.company.industry), \(new.company.region),
          \(new.company.contactName), \(new.company.description), \(new.creationKey))
        RETURNING \(unescaped: Self.accountColumns)
        """
      )
      guard let account = try await Self.firstAccount(rows) else {
        throw StoreInvariantError.noRowReturned
      }
      return account
    } catch let error as PSQLError where error.isUniqueViolation {
      switch error.constraintName {
      case "billing_accounts_username_key": throw BillingError.usernameTaken
      case "billing_accounts_email_key": throw BillingError.emailTaken
      case "billing_accounts_phone_key": throw BillingError.phoneTaken
      default: throw error
      }
    }
  }

  public func account(id: UUID) async throws -> BillingAccount? {
    try await Self.firstAccount(
      database.execute(
        "SELECT \(unescaped: Self.accountColumns) FROM billing_accounts a WHERE a.id = \(id)"
      )
    )
  }

  public func account(createdWith key: String) async throws -> BillingAccount? {
    try await Self.firstAccount(
      database.execute(
        "SELECT \(unescaped: Self.accountColumns) FROM billing_accounts a WHERE a.creation_key = \(key)"
      )
    )
  }

  public func account(username: String) async throws -> BillingAccount? {
    try await Self.firstAccount(
      database.execute(
        "SELECT \(unescaped: Self.accountColumns) FROM billing_accounts a WHERE a.username = \(username)"
      )
    )
  }

  public func loginCandidate(forLogin login: String) async throws -> LoginCandidate? {
    let rows = try await database.execute(
      """
      SELECT id, password_hash FROM billing_accounts
      WHERE username = \(login) OR email = \(login) OR phone = \(login)
      LIMIT 1
      """
    )
    for try await (id, hash) in rows.decode((UUID, String).self) {
      return LoginCandidate(accountID: id, passwordHash: hash)
    }
    return nil
  }

  public func replacePasswordHash(accountID: UUID, with hash: String) async throws {
    try await database.execute(
      "UPDATE billing_accounts SET password_hash = \(hash) WHERE id = \(accountID)"
    )
  }

  // MARK: Cloud accounts

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
  private static func link(
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
  private static func linkIdentity(
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

  // MARK: Workspace bindings

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

  // MARK: Usage

  public func recordUsage(_ events: [UsageEvent]) async throws -> [UsageResult] {
    let logger = self.logger
    let days = Array(Set(events.map { BillingDay(containing: $0.usageTime).ordinal }))
    let accepted: Set<String> = try await database.transaction { connection in
      // Shared day locks: closing a day takes the exclusive one, so no event can slip into a
      // day while it is being rated, and none is accepted for a day already closed.
      try await connection.execute(
        "SELECT pg_advisory_xact_lock_shared(\(Self.dayLockClass), d) FROM unnest(\(days)::int[]) AS d",
        logger: logger
      )
      let closed = try await connection.execute(
        """
        SELECT day::text FROM closed_days
        WHERE day = ANY(ARRAY(SELECT DATE '1970-01-01' + d FROM unnest(\(days)::int[]) AS d))
        """,
        logger: logger
      )
      for try await day in closed.decode(String.self) { throw BillingError.dayClosed(day) }
      let rows = try await connection.execute(
        """
        INSERT INTO usage_events (idempotency_key, workspace_id, billing_item, quantity, usage_time)
        SELECT k, w, i, q::numeric, t
        FROM unnest(\(events.map(\.idempotencyKey))::text[], \(events.map(\.workspaceID))::uuid[],
                    \(events.map(\.billingItem))::text[], \(events.map { Quantity.text($0.quantity) })::text[],
                    \(events.map(\.usageTime))::timestamptz[]) AS e(k, w, i, q, t)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING idempotency_key
        """,
        logger: logger
      )
      var keys: Set<String> = []
      for try await key in rows.decode(String.self) { keys.insert(key) }
      return keys
    }
    // A key repeated inside one batch is accepted once; its other copies are duplicates.
    var seen: Set<String> = []
    return events.map { event in
      seen.insert(event.idempotencyKey).inserted && accepted.contains(event.idempotencyKey)
        ? .accepted : .duplicate
    }
  }

  /// The advisory lock class of billing days (with the day's ordinal as the key).
  static let dayLockClass: Int32 = 0x4249_4C4C

  // MARK: Bills

  public func closeDay(
    _ day: BillingDay,
    catalogVersion: String,
    rate: @Sendable ([DayUsage]) throws -> (lines: [BillLine], metering: [MeteringRecord])
  ) async throws -> DayClosing {
    let logger = self.logger
    return try await database.transaction { connection in
      try await connection.execute(
        "SELECT pg_advisory_xact_lock(\(Self.dayLockClass), \(Int32(day.ordinal)))",
        logger: logger
      )
      let claimed = try await connection.execute(
        """
        INSERT INTO closed_days (day, catalog_version) VALUES (\(day.description)::date, \(catalogVersion))
        ON CONFLICT (day) DO NOTHING RETURNING day
        """,
        logger: logger
      )
      var isNew = false
      for try await _ in claimed { isNew = true }
      guard isNew else { return DayClosing(closedNow: false, billLines: 0, meteringRecords: 0) }

      let rows = try await connection.execute(
        """
        SELECT b.billing_account_id, e.workspace_id, COALESCE(b.site, ''), b.settlement,
               b.marketplace_subscription_id, e.billing_item,
               EXISTS (SELECT 1 FROM subscription_suspensions s
                       WHERE s.marketplace_subscription_id = b.marketplace_subscription_id
                         AND e.usage_time >= s.suspended_from
                         AND (s.suspended_until IS NULL OR e.usage_time < s.suspended_until)),
               sum(e.quantity)
        FROM usage_events e
        LEFT JOIN workspace_bindings b ON b.workspace_id = e.workspace_id
          AND e.usage_time >= b.valid_from AND (b.valid_to IS NULL OR e.usage_time < b.valid_to)
        WHERE e.usage_time >= \(day.start) AND e.usage_time < \(day.end)
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 2, 6, 7
        """,
        logger: logger
      )
      var usage: [DayUsage] = []
      for try await (account, workspace, site, method, subscription, item, suspended, quantity)
        in rows.decode((UUID?, UUID, String, String?, String?, String, Bool, Decimal).self)
      {
        usage.append(
          DayUsage(
            billingAccountID: account,
            workspaceID: workspace,
            site: site,
            settlement: method.flatMap { Settlement(method: $0, subscriptionID: subscription) },
            billingItem: item,
            quantity: quantity,
            duringSuspension: suspended
          )
        )
      }
      let (lines, metering) = try rate(usage)
      for line in lines {
        try await connection.execute(
          """
          INSERT INTO daily_bill_lines (day, billing_account_id, workspace_id, site, settlement,
            marketplace_subscription_id, billing_item, quantity, unit_size, unit_price_micros,
            amount_micros, currency, unbilled_reason)
          VALUES (\(day.description)::date, \(line.billingAccountID), \(line.workspaceID), \(line.site),
            \(line.settlement?.method), \(line.settlement?.subscriptionID), \(line.billingItem),
            \(line.quantity), \(line.unitSize), \(line.unitPriceMicros), \(line.amountMicros), \(line.currency),
            \(line.unbilledReason))
          """,
          logger: logger
        )
      }
      for record in metering {
        try await connection.execute(
          """
          INSERT INTO metering_records (key, day, marketplace_subscription_id, dimension,
            effective_start_time, quantity)
          VALUES (\(record.key), \(day.description)::date, \(record.subscriptionID), \(record.dimension),
            \(record.effectiveStartTime), \(record.quantity))
          """,
          logger: logger
        )
      }
      return DayClosing(closedNow: true, billLines: lines.count, meteringRecords: metering.count)
    }
  }

  public func daysAwaitingClosure(endedBefore cutoff: Date) async throws -> [BillingDay] {
    let lookBack = GuanceBilling.maxUsageAge + 86400
    let rows = try await database.execute(
      """
      SELECT DISTINCT floor(EXTRACT(EPOCH FROM e.usage_time) / 86400)::int AS day
      FROM usage_events e
      WHERE e.usage_time >= \(cutoff.addingTimeInterval(-lookBack)) AND e.usage_time < \(cutoff)
        AND NOT EXISTS (
          SELECT 1 FROM closed_days c WHERE c.day = DATE '1970-01-01' + floor(EXTRACT(EPOCH FROM e.usage_time) / 86400)::int)
      ORDER BY day
      """
    )
    var days: [BillingDay] = []
    for try await ordinal in rows.decode(Int.self) {
      let day = BillingDay(ordinal: ordinal)
      if day.end <= cutoff { days.append(day) }
    }
    return days
  }

  public func bills(
    billingAccountID: UUID,
    days: ClosedRange<BillingDay>
  ) async throws -> [DailyBill] {
    let rows = try await database.execute(
      """
      SELECT d.day::text, d.catalog_version, l.workspace_id, l.site, l.settlement,
             l.marketplace_subscription_id, l.billing_item, l.quantity, l.unit_size,
             l.unit_price_micros, l.amount_micros, l.currency, l.unbilled_reason
      FROM closed_days d
      LEFT JOIN daily_bill_lines l ON l.day = d.day AND l.billing_account_id = \(billingAccountID)
      WHERE d.day BETWEEN \(days.lowerBound.description)::date AND \(days.upperBound.description)::date
      ORDER BY d.day, l.workspace_id, l.billing_item, l.settlement
      """
    )
    var bills: [DailyBill] = []
    for try await row in rows.decode(
      (
        String, String, UUID?, String?, String?, String?, String?, Decimal?, Int64?, Int64?, Int64?,
        String?, String?
      ).self
    ) {
      if bills.last?.day != row.0 {
        bills.append(DailyBill(day: row.0, lines: [], catalogVersion: row.1))
      }
      guard let workspace = row.2, let site = row.3, let item = row.6, let quantity = row.7,
        let unitSize = row.8, let price = row.9, let amount = row.10, let currency = row.11
      else { continue }
      bills[bills.count - 1].lines.append(
        BillLine(
          day: row.0,
          billingAccountID: billingAccountID,
          workspaceID: workspace,
          site: site,
          settlement: row.4.flatMap { Settlement(method: $0, subscriptionID: row.5) },
          billingItem: item,
          quantity: quantity,
          unitSize: unitSize,
          unitPriceMicros: price,
          amountMicros: amount,
          currency: currency,
          unbilledReason: row.12
        )
      )
    }
    return bills
  }

  private static let meteringColumns = """
    m.key, m.marketplace_subscription_id, m.dimension, m.effective_start_time, m.quantity, m.attempts,
    m.status, m.marketplace_status, m.last_message, m.day::text, m.updated_at
    """
  private typealias MeteringRow = (
    String, String, String, Date, Decimal, Int, String, String?, String?, String, Date
  )

  private static func meteringRecords(_ rows: Rows) async throws -> [MeteringRecord] {
    var records: [MeteringRecord] = []
    for try await row in rows.decode(MeteringRow.self) {
      guard let status = MeteringRecord.Status(rawValue: row.6) else {
        throw StoreInvariantError.unknownValue(row.6)
      }
      records.append(
        MeteringRecord(
          key: row.0,
          subscriptionID: row.1,
          dimension: row.2,
          effectiveStartTime: row.3,
          quantity: row.4,
          attempts: row.5,
          status: status,
          marketplaceStatus: row.7,
          lastMessage: row.8,
          day: row.9,
          updatedAt: row.10
        )
      )
    }
    return records
  }

  public func pendingMeteringRecords(limit: Int) async throws -> [MeteringRecord] {
    try await Self.meteringRecords(
      database.execute(
        """
        SELECT \(unescaped: Self.meteringColumns) FROM metering_records m WHERE m.status = 'pending'
        ORDER BY m.created_at, m.key LIMIT \(limit)
        """
      )
    )
  }

  public func meteringRecords(
    status: MeteringRecord.Status?,
    day: BillingDay?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  ) async throws -> [MeteringRecord] {
    try await Self.meteringRecords(
      database.execute(
        """
        SELECT \(unescaped: Self.meteringColumns) FROM metering_records m
        WHERE (\(status?.rawValue)::text IS NULL OR m.status = \(status?.rawValue))
          AND (\(day?.description)::date IS NULL OR m.day = \(day?.description)::date)
          AND (\(subscriptionID)::text IS NULL OR m.marketplace_subscription_id = \(subscriptionID))
          AND (\(afterKey)::text IS NULL OR m.key > \(afterKey))
        ORDER BY m.key LIMIT \(limit)
        """
      )
    )
  }

  /// Resubmit: rejected or parked → pending. Park: pending or rejected → parked. Repeating
  /// either changes nothing; a delivered record is refused.
  public func setDisposition(
    _ disposition: MeteringRecord.Disposition,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
  {
    let target: MeteringRecord.Status = disposition == .resubmit ? .pending : .parked
    let logger = self.logger
    return try await database.transaction { connection in
      let current = try await Self.meteringRecords(
        connection.execute(
          "SELECT \(unescaped: Self.meteringColumns) FROM metering_records m WHERE m.key = \(key) FOR UPDATE",
          logger: logger
        )
      )
      guard let record = current.first else { throw BillingError.meteringRecordNotFound(key) }
      guard !record.status.isDelivered else { throw BillingError.meteringRecordDelivered(key) }
      guard record.status != target else { return record }
      let updated = try await Self.meteringRecords(
        connection.execute(
          """
          UPDATE metering_records m SET status = \(target.rawValue), last_message = \(reason), updated_at = now()
          WHERE m.key = \(key) RETURNING \(unescaped: Self.meteringColumns)
          """,
          logger: logger
        )
      )
      guard let record = updated.first else { throw StoreInvariantError.noRowReturned }
      return record
    }
  }

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

  public func acknowledge(_ acknowledgements: [MeteringAcknowledgement]) async throws -> [String] {
    let logger = self.logger
    return try await database.transaction { connection in
      var unknown: [String] = []
      for ack in acknowledgements {
        // A delivered record stays delivered: a late "retry" or a replayed answer changes nothing.
        // A delivery is recorded whatever the record's status: the marketplace has billed it,
        // also when an operator parked (or it was rejected) while the call was under way.
        let status = ack.outcome == .retry ? "pending" : ack.outcome.rawValue
        let delivered = ack.outcome == .accepted || ack.outcome == .duplicate
        let answerable = delivered ? ["pending", "parked", "rejected"] : ["pending"]
        let rows = try await connection.execute(
          """
          UPDATE metering_records
          SET status = CASE WHEN status = ANY(\(answerable)) THEN \(status) ELSE status END,
              attempts = attempts + CASE WHEN status = 'pending' THEN 1 ELSE 0 END,
              marketplace_status = CASE WHEN status = ANY(\(answerable))
                THEN \(ack.marketplaceStatus) ELSE marketplace_status END,
              last_message = CASE WHEN status = 'pending' THEN \(ack.message) ELSE last_message END,
              updated_at = now()
          WHERE key = \(ack.key)
          RETURNING key
          """,
          logger: logger
        )
        var found = false
        for try await _ in rows { found = true }
        if !found { unknown.append(ack.key) }
      }
      return unknown
    }
  }
}

/// The database answered something the schema rules out.
enum StoreInvariantError: Error {
  case noRowReturned
  case unknownValue(String)
}
