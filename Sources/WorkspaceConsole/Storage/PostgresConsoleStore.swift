public import Foundation
public import Logging
public import Mailer
import PostgresNIO
public import SuitePersistence

/// `ConsoleStore` on PostgreSQL. Every multi-statement change runs in one transaction.
public struct PostgresConsoleStore: ConsoleStore {
  private let database: Database
  private let logger: Logger

  public init(database: Database, logger: Logger) {
    self.database = database
    self.logger = logger
  }

  /// The console's schema, with the mail outbox it shares the database with.
  public static func migrations() throws -> [Migration] {
    guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
      throw MigrationError.badFileName("WorkspaceConsole/Migrations (missing from the bundle)")
    }
    return try MailOutbox.migrations()
      + Migration.load(component: "workspace_console", from: directory)
  }

  // MARK: Accounts

  private static let accountColumns = "a.id, a.username, a.email, a.phone, a.created_at"
  private typealias AccountRow = (UUID, String, String, String?, Date)

  private static func account(_ row: AccountRow) -> Account {
    Account(id: row.0, username: row.1, email: row.2, phone: row.3, createdAt: row.4)
  }

  public func insertAccount(_ account: NewAccount) async throws -> Account {
    let logger = self.logger
    return try await database.transaction { connection in
      try await Self.insert(account, on: connection, logger: logger)
    }
  }

  private static func insert(_ account: NewAccount, on connection: PostgresConnection, logger: Logger)
    async throws -> Account
  {
    do {
      let rows = try await connection.query(
        """
        INSERT INTO accounts AS a (id, username, email, phone, password_hash)
        VALUES (\(UUID()), \(account.username), \(account.email), \(account.phone), \(account.passwordHash))
        RETURNING \(unescaped: accountColumns)
        """, logger: logger)
      for try await row in rows.decode(AccountRow.self) { return Self.account(row) }
      throw StoreInvariantError.noRowReturned
    } catch let error as PSQLError where error.isUniqueViolation {
      switch error.constraintName {
      case "accounts_username_key": throw ConsoleError.usernameTaken
      case "accounts_email_key": throw ConsoleError.emailTaken
      default: throw error
      }
    }
  }

  public func account(id: UUID) async throws -> Account? {
    let rows = try await database.query(
      "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.id = \(id)")
    for try await row in rows.decode(AccountRow.self) { return Self.account(row) }
    return nil
  }

  public func credentials(forLogin login: String) async throws -> StoredCredentials? {
    let rows = try await database.query(
      """
      SELECT \(unescaped: Self.accountColumns), a.password_hash FROM accounts a
      WHERE a.username = \(login) OR a.email = \(login)
      LIMIT 1
      """)
    for try await (id, username, email, phone, createdAt, hash)
      in rows.decode((UUID, String, String, String?, Date, String).self)
    {
      return StoredCredentials(
        account: Self.account((id, username, email, phone, createdAt)), passwordHash: hash)
    }
    return nil
  }

  public func replacePasswordHash(accountID: UUID, with hash: String) async throws {
    try await database.query("UPDATE accounts SET password_hash = \(hash) WHERE id = \(accountID)")
  }

  // MARK: Workspaces

  private static let workspaceColumns =
    "w.id, w.name, w.language, w.site, w.status, w.owner_account_id, w.created_at"
  private typealias WorkspaceRow = (UUID, String, String, String, String, UUID, Date)

  private static func workspace(_ row: WorkspaceRow) throws -> Workspace {
    guard let status = WorkspaceStatus(rawValue: row.4) else {
      throw StoreInvariantError.unknownStatus(row.4)
    }
    return Workspace(
      id: row.0, name: row.1, language: row.2, site: row.3, status: status, ownerAccountID: row.5,
      createdAt: row.6)
  }

  private static func insertWorkspace(
    _ draft: WorkspaceDraft, owner: UUID, on connection: PostgresConnection, logger: Logger
  ) async throws -> Workspace {
    let id = UUID()
    let rows = try await connection.query(
      """
      INSERT INTO workspaces AS w (id, name, language, site, owner_account_id)
      VALUES (\(id), \(draft.name), \(draft.language), \(draft.site), \(owner))
      RETURNING \(unescaped: workspaceColumns)
      """, logger: logger)
    var created: Workspace?
    for try await row in rows.decode(WorkspaceRow.self) { created = try Self.workspace(row) }
    guard let created else { throw StoreInvariantError.noRowReturned }
    try await connection.query(
      """
      INSERT INTO workspace_members (workspace_id, account_id, role)
      VALUES (\(id), \(owner), 'owner')
      """, logger: logger)
    return created
  }

  public func insertAccountAndWorkspace(_ account: NewAccount, _ draft: WorkspaceDraft)
    async throws -> (Account, Workspace)
  {
    let logger = self.logger
    return try await database.transaction { connection in
      let created = try await Self.insert(account, on: connection, logger: logger)
      let workspace = try await Self.insertWorkspace(
        draft, owner: created.id, on: connection, logger: logger)
      return (created, workspace)
    }
  }

  public func createWorkspace(
    _ draft: WorkspaceDraft, challengeID: UUID,
    judge: @Sendable (EmailChallengeRecord) -> ChallengeVerdict
  ) async throws -> Result<(Account, Workspace), ConsoleError> {
    let logger = self.logger
    return try await database.transaction { connection in
      let rows = try await connection.query(
        """
        SELECT id, email, purpose, account_id, code_digest, expires_at, attempts, consumed_at
        FROM email_challenges WHERE id = \(challengeID)
        FOR UPDATE
        """, logger: logger)
      var found: EmailChallengeRecord?
      for try await (id, email, purpose, accountID, digest, expiresAt, attempts, consumedAt)
        in rows.decode((UUID, String, String, UUID?, Data, Date, Int, Date?).self)
      {
        guard let purpose = EmailCodePurpose(rawValue: purpose) else {
          throw StoreInvariantError.unknownStatus(purpose)
        }
        found = EmailChallengeRecord(
          id: id, email: email, purpose: purpose, accountID: accountID, codeDigest: Array(digest),
          expiresAt: expiresAt, attempts: attempts, consumedAt: consumedAt)
      }
      guard let challenge = found else {
        return .failure(.challengeNotFound(challengeID.uuidString))
      }
      switch judge(challenge) {
      case .reject(let error, let countsAsAttempt):
        if countsAsAttempt {
          try await connection.query(
            "UPDATE email_challenges SET attempts = attempts + 1 WHERE id = \(challengeID)",
            logger: logger)
        }
        return .failure(error)
      case .accept:
        guard let accountID = challenge.accountID else {
          return .failure(.challengeNotFound(challengeID.uuidString))
        }
        try await connection.query(
          "UPDATE email_challenges SET consumed_at = now() WHERE id = \(challengeID)",
          logger: logger)
        let accountRows = try await connection.query(
          "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.id = \(accountID)",
          logger: logger)
        var owner: Account?
        for try await row in accountRows.decode(AccountRow.self) { owner = Self.account(row) }
        guard let owner else { throw StoreInvariantError.noRowReturned }
        let workspace = try await Self.insertWorkspace(
          draft, owner: accountID, on: connection, logger: logger)
        return .success((owner, workspace))
      }
    }
  }

  public func workspaces(memberAccountID: UUID) async throws -> [Workspace] {
    let rows = try await database.query(
      """
      SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w
      JOIN workspace_members m ON m.workspace_id = w.id
      WHERE m.account_id = \(memberAccountID)
      ORDER BY w.created_at, w.id
      """)
    var workspaces: [Workspace] = []
    for try await row in rows.decode(WorkspaceRow.self) { workspaces.append(try Self.workspace(row)) }
    return workspaces
  }

  public func workspace(id: UUID, memberAccountID: UUID) async throws -> Workspace? {
    let rows = try await database.query(
      """
      SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w
      JOIN workspace_members m ON m.workspace_id = w.id
      WHERE w.id = \(id) AND m.account_id = \(memberAccountID)
      """)
    for try await row in rows.decode(WorkspaceRow.self) { return try Self.workspace(row) }
    return nil
  }

  public func workspace(id: UUID) async throws -> Workspace? {
    let rows = try await database.query(
      "SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w WHERE w.id = \(id)")
    for try await row in rows.decode(WorkspaceRow.self) { return try Self.workspace(row) }
    return nil
  }

  public func setWorkspaceStatus(
    id: UUID, to status: WorkspaceStatus, reason: String, requestID: String
  ) async throws -> Workspace? {
    let logger = self.logger
    return try await database.transaction { connection in
      let current = try await connection.query(
        "SELECT status FROM workspaces WHERE id = \(id) FOR UPDATE", logger: logger)
      var previous: String?
      for try await status in current.decode(String.self) { previous = status }
      guard let previous else { return nil }
      let rows = try await connection.query(
        """
        UPDATE workspaces w SET status = \(status.rawValue) WHERE w.id = \(id)
        RETURNING \(unescaped: Self.workspaceColumns)
        """, logger: logger)
      var updated: Workspace?
      for try await row in rows.decode(WorkspaceRow.self) { updated = try Self.workspace(row) }
      try await connection.query(
        """
        INSERT INTO workspace_status_changes (workspace_id, from_status, to_status, reason, request_id)
        VALUES (\(id), \(previous), \(status.rawValue), \(reason), \(requestID))
        """, logger: logger)
      return updated
    }
  }

  // MARK: Email codes

  public func issueEmailChallenge(
    _ challenge: NewEmailChallenge, throttle: EmailThrottle,
    mail: @Sendable (Account) -> OutgoingMail
  ) async throws -> Result<EmailChallengeIssued, ConsoleError> {
    let logger = self.logger
    let resendSeconds = Int(throttle.resendInterval.components.seconds)
    let lifetimeSeconds = Int(challenge.lifetime.components.seconds)
    return try await database.transaction { connection in
      // Serialises requests for one address, so two at once cannot both pass the throttle.
      try await connection.query(
        "SELECT pg_advisory_xact_lock(hashtext(\(challenge.email + "/" + challenge.purpose.rawValue)))",
        logger: logger)
      let recent = try await connection.query(
        """
        SELECT count(*)::int,
               COALESCE(EXTRACT(EPOCH FROM max(created_at) + make_interval(secs => \(resendSeconds)) - now()), 0)::float8,
               COALESCE(EXTRACT(EPOCH FROM min(created_at) + interval '1 hour' - now()), 0)::float8
        FROM email_challenges
        WHERE email = \(challenge.email) AND purpose = \(challenge.purpose.rawValue)
          AND created_at > now() - interval '1 hour'
        """, logger: logger)
      for try await (count, resendIn, hourResetIn) in recent.decode((Int, Double, Double).self) {
        if resendIn > 0 {
          return .failure(.resendTooSoon(retryAfter: .seconds(Int(resendIn.rounded(.up)))))
        }
        if count >= throttle.maxPerHour {
          return .failure(.tooManyCodes(retryAfter: .seconds(Int(max(1, hourResetIn.rounded(.up))))))
        }
      }

      let owners = try await connection.query(
        "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.email = \(challenge.email)",
        logger: logger)
      var owner: Account?
      for try await row in owners.decode(AccountRow.self) { owner = Self.account(row) }

      let inserted = try await connection.query(
        """
        INSERT INTO email_challenges (id, email, purpose, account_id, code_digest, expires_at)
        VALUES (\(challenge.id), \(challenge.email), \(challenge.purpose.rawValue), \(owner?.id),
                \(Data(challenge.codeDigest)), now() + make_interval(secs => \(lifetimeSeconds)))
        RETURNING expires_at
        """, logger: logger)
      var expiresAt: Date?
      for try await date in inserted.decode(Date.self) { expiresAt = date }
      guard let expiresAt else { throw StoreInvariantError.noRowReturned }
      if let owner {
        try await MailOutbox.enqueue(mail(owner), on: connection, logger: logger)
      }
      return .success(
        EmailChallengeIssued(
          challengeID: challenge.id, expiresAt: expiresAt, resendAfter: throttle.resendInterval))
    }
  }

  // MARK: Sessions

  public func insertSession(
    tokenDigest: [UInt8], accountID: UUID, absoluteLifetime: Duration, idleTimeout: Duration
  ) async throws -> ConsoleSession {
    let absolute = Int(absoluteLifetime.components.seconds)
    let idle = Int(idleTimeout.components.seconds)
    let rows = try await database.query(
      """
      INSERT INTO sessions (token_digest, account_id, absolute_expires_at)
      VALUES (\(Data(tokenDigest)), \(accountID), now() + make_interval(secs => \(absolute)))
      RETURNING created_at, LEAST(last_seen_at + make_interval(secs => \(idle)), absolute_expires_at)
      """)
    for try await (createdAt, expiresAt) in rows.decode((Date, Date).self) {
      return ConsoleSession(accountID: accountID, createdAt: createdAt, expiresAt: expiresAt)
    }
    throw StoreInvariantError.noRowReturned
  }

  public func touchSession(tokenDigest: [UInt8], idleTimeout: Duration) async throws
    -> ConsoleSession?
  {
    let idle = Int(idleTimeout.components.seconds)
    let rows = try await database.query(
      """
      UPDATE sessions SET last_seen_at = now()
      WHERE token_digest = \(Data(tokenDigest))
        AND last_seen_at > now() - make_interval(secs => \(idle))
        AND absolute_expires_at > now()
      RETURNING account_id, created_at,
        LEAST(now() + make_interval(secs => \(idle)), absolute_expires_at)
      """)
    for try await (accountID, createdAt, expiresAt) in rows.decode((UUID, Date, Date).self) {
      return ConsoleSession(accountID: accountID, createdAt: createdAt, expiresAt: expiresAt)
    }
    return nil
  }

  public func deleteSession(tokenDigest: [UInt8]) async throws {
    try await database.query("DELETE FROM sessions WHERE token_digest = \(Data(tokenDigest))")
  }

  // MARK: Login throttling

  public func loginFailures(subjects: [String]) async throws -> [String: Int] {
    let rows = try await database.query(
      """
      SELECT subject, failures FROM login_failures
      WHERE subject = ANY(\(subjects)) AND window_start = date_trunc('hour', now())
      """)
    var failures: [String: Int] = [:]
    for try await (subject, count) in rows.decode((String, Int).self) { failures[subject] = count }
    return failures
  }

  public func recordLoginFailure(subjects: [String]) async throws {
    try await database.query(
      """
      INSERT INTO login_failures (subject, window_start, failures)
      SELECT s, date_trunc('hour', now()), 1 FROM unnest(\(subjects)::text[]) AS s
      ON CONFLICT (subject, window_start) DO UPDATE SET failures = login_failures.failures + 1
      """)
  }
}

/// The database answered something the schema rules out.
enum StoreInvariantError: Error {
  case noRowReturned
  case unknownStatus(String)
}
