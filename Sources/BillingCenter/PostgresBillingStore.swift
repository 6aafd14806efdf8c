import AccountAccess
import AccountKit
import Foundation
public import Logging
import Mailer
import PostgresNIO
public import SuitePersistence

/// `BillingStore` on PostgreSQL, one extension per aggregate (`PostgresBillingStore+*.swift`).
public struct PostgresBillingStore: BillingStore {
  let database: Database
  let challenges: EmailChallenges
  let logger: Logger

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

}

/// The database answered something the schema rules out.
enum StoreInvariantError: Error {
  case noRowReturned
  case unknownValue(String)
}
