public import AccountAccess
import AccountKit
public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Billing accounts: registration, look-ups, password hashes.
extension PostgresBillingStore {
  static let accountColumns = """
    a.id, a.username, a.email, a.phone, a.company_name, a.industry, a.region, a.contact_name,
    a.description, a.created_at
    """
  typealias AccountRow = (
    UUID, String, String, String?, String, String, String, String, String, Date
  )

  static func account(_ row: AccountRow) -> BillingAccount {
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

  static func firstAccount(_ rows: Rows) async throws -> BillingAccount? {
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
}
