import AccountAccess
public import Foundation
import Logging
import Mailer
import PostgresNIO
import PostgresPipeline
import SuiteKit
import SuitePersistence

/// Workspaces on PostgreSQL.
extension PostgresConsoleStore {

  static let workspaceColumns =
    "w.id, w.name, w.language, w.site, w.status, w.owner_account_id, w.created_at"
  typealias WorkspaceRow = (UUID, String, String, String, String, UUID, Date)

  static func workspace(_ row: WorkspaceRow) throws -> Workspace {
    guard let status = WorkspaceStatus(rawValue: row.4) else {
      throw StoreInvariantError.unknownStatus(row.4)
    }
    return Workspace(
      id: row.0,
      name: row.1,
      language: row.2,
      site: row.3,
      status: status,
      ownerAccountID: row.5,
      createdAt: row.6
    )
  }

  static func insertWorkspace(
    _ draft: WorkspaceDraft,
    owner: UUID,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws -> Workspace {
    let id = UUID()
    let rows = try await connection.execute(
      """
      INSERT INTO workspaces AS w (id, name, language, site, owner_account_id, creation_key)
      VALUES (\(id), \(draft.name), \(draft.language), \(draft.site), \(owner), \(draft.creationKey))
      RETURNING \(unescaped: workspaceColumns)
      """,
      logger: logger
    )
    var created: Workspace?
    for try await row in rows.decode(WorkspaceRow.self) { created = try Self.workspace(row) }
    guard let created else { throw StoreInvariantError.noRowReturned }
    try await connection.execute(
      """
      INSERT INTO workspace_members (workspace_id, account_id, role)
      VALUES (\(id), \(owner), 'owner')
      """,
      logger: logger
    )
    return created
  }

  public func insertAccountAndWorkspace(
    _ account: NewAccount,
    _ draft: WorkspaceDraft
  )
    async throws -> (Account, Workspace)
  {
    let logger = self.logger
    return try await database.transaction { connection in
      let created = try await Self.insert(account, on: connection, logger: logger)
      let workspace = try await Self.insertWorkspace(
        draft,
        owner: created.id,
        on: connection,
        logger: logger
      )
      return (created, workspace)
    }
  }

  public func createWorkspace(
    _ draft: WorkspaceDraft,
    redeeming redemption: CodeRedemption
  )
    async throws -> (Account, Workspace)
  {
    let logger = self.logger
    return try await challenges.redeem(
      challengeID: redemption.challengeID,
      code: redemption.code,
      subject: redemption.email,
      purpose: redemption.purpose.rawValue
    ) { connection, accountID in
      let rows = try await connection.execute(
        "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.id = \(accountID)",
        logger: logger
      )
      var owner: Account?
      for try await row in rows.decode(AccountRow.self) { owner = Self.account(row) }
      guard let owner else { throw StoreInvariantError.noRowReturned }
      let workspace = try await Self.insertWorkspace(
        draft,
        owner: accountID,
        on: connection,
        logger: logger
      )
      return (owner, workspace)
    }
  }

  public func workspace(createdWith key: String) async throws -> (Account, Workspace)? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.accountColumns), \(unescaped: Self.workspaceColumns)
      FROM workspaces w JOIN accounts a ON a.id = w.owner_account_id
      WHERE w.creation_key = \(key)
      """
    )
    // postgres-nio decodes flat tuples only: the account's columns, then the workspace's.
    typealias Joined = (
      UUID, String, String, String?, Date, UUID, String, String, String, String, UUID, Date
    )
    for try await r in rows.decode(Joined.self) {
      return (
        Self.account((r.0, r.1, r.2, r.3, r.4)),
        try Self.workspace((r.5, r.6, r.7, r.8, r.9, r.10, r.11))
      )
    }
    return nil
  }

  public func workspaces(memberAccountID: UUID) async throws -> [Workspace] {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w
      JOIN workspace_members m ON m.workspace_id = w.id
      WHERE m.account_id = \(memberAccountID)
      ORDER BY w.created_at, w.id
      """
    )
    var workspaces: [Workspace] = []
    for try await row in rows.decode(WorkspaceRow.self) {
      workspaces.append(try Self.workspace(row))
    }
    return workspaces
  }

  public func workspace(id: UUID, memberAccountID: UUID) async throws -> Workspace? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w
      JOIN workspace_members m ON m.workspace_id = w.id
      WHERE w.id = \(id) AND m.account_id = \(memberAccountID)
      """
    )
    for try await row in rows.decode(WorkspaceRow.self) { return try Self.workspace(row) }
    return nil
  }

  static let workspaceByID = PipelinedReads.Statement(
    name: "workspace_by_id",
    sql: "SELECT \(workspaceColumns) FROM workspaces w WHERE w.id = $1",
    parameters: 1
  )

  public func workspace(id: UUID) async throws -> Workspace? {
    if let pipelinedReads {
      guard let row = try await pipelinedReads.rows(Self.workspaceByID, [id.canonicalText]).first
      else {
        return nil
      }
      return try Self.workspace(
        (
          row.uuid(0), row.text(1), row.text(2), row.text(3), row.text(4), row.uuid(5),
          row.date(6)
        )
      )
    }
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w WHERE w.id = \(id)"
    )
    for try await row in rows.decode(WorkspaceRow.self) { return try Self.workspace(row) }
    return nil
  }

  public func setWorkspaceStatus(
    id: UUID,
    to status: WorkspaceStatus,
    reason: String,
    requestID: String,
    change: @Sendable (_ current: WorkspaceStatus) throws -> Bool
  ) async throws -> Workspace? {
    let logger = self.logger
    return try await database.transaction { connection in
      // Locked until the transaction ends: a concurrent change waits and then sees this one.
      let current = try await connection.execute(
        "SELECT \(unescaped: Self.workspaceColumns) FROM workspaces w WHERE w.id = \(id) FOR UPDATE",
        logger: logger
      )
      var locked: Workspace?
      for try await row in current.decode(WorkspaceRow.self) { locked = try Self.workspace(row) }
      guard let locked else { return nil }
      guard try change(locked.status) else { return locked }
      let rows = try await connection.execute(
        """
        UPDATE workspaces w SET status = \(status.rawValue) WHERE w.id = \(id)
        RETURNING \(unescaped: Self.workspaceColumns)
        """,
        logger: logger
      )
      var updated: Workspace?
      for try await row in rows.decode(WorkspaceRow.self) { updated = try Self.workspace(row) }
      try await connection.execute(
        """
        INSERT INTO workspace_status_changes (workspace_id, from_status, to_status, reason, request_id)
        VALUES (\(id), \(locked.status.rawValue), \(status.rawValue), \(reason), \(requestID))
        """,
        logger: logger
      )
      return updated
    }
  }
}
