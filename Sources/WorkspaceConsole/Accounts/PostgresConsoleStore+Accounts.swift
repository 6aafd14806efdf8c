public import AccountAccess
public import Foundation
import Logging
import Mailer
import PostgresNIO
import SuitePersistence

/// Accounts on PostgreSQL.
extension PostgresConsoleStore {

  static let accountColumns = "a.id, a.username, a.email, a.phone, a.created_at"
  typealias AccountRow = (UUID, String, String, String?, Date)

  static func account(_ row: AccountRow) -> Account {
    Account(id: row.0, username: row.1, email: row.2, phone: row.3, createdAt: row.4)
  }

  public func insertAccount(_ account: NewAccount) async throws -> Account {
    let logger = self.logger
    return try await database.transaction { connection in
      try await Self.insert(account, on: connection, logger: logger)
    }
  }

  static func insert(
    _ account: NewAccount,
    on connection: PostgresConnection,
    logger: Logger
  )
    async throws -> Account
  {
    do {
      let rows = try await connection.execute(
        """
        INSERT INTO accounts AS a (id, username, email, phone, password_hash)
        VALUES (\(UUID()), \(account.username), \(account.email), \(account.phone), \(account.passwordHash))
        RETURNING \(unescaped: accountColumns)
        """,
        logger: logger
      )
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
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.id = \(id)"
    )
    for try await row in rows.decode(AccountRow.self) { return Self.account(row) }
    return nil
  }

  public func account(email: String) async throws -> Account? {
    let rows = try await database.execute(
      "SELECT \(unescaped: Self.accountColumns) FROM accounts a WHERE a.email = \(email)"
    )
    for try await row in rows.decode(AccountRow.self) { return Self.account(row) }
    return nil
  }

  public func loginCandidate(forLogin login: String) async throws -> LoginCandidate? {
    let rows = try await database.execute(
      "SELECT id, password_hash FROM accounts WHERE username = \(login) OR email = \(login) LIMIT 1"
    )
    for try await (id, hash) in rows.decode((UUID, String).self) {
      return LoginCandidate(accountID: id, passwordHash: hash)
    }
    return nil
  }

  public func replacePasswordHash(accountID: UUID, with hash: String) async throws {
    try await database.execute(
      "UPDATE accounts SET password_hash = \(hash) WHERE id = \(accountID)"
    )
  }
}
