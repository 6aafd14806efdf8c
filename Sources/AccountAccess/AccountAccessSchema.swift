import Foundation
public import SuitePersistence

/// The tables of sessions, login throttling and emailed codes, applied with the owning
/// service's migrations (each service keeps them in its own database).
public enum AccountAccessSchema {
  public static func migrations() throws -> [Migration] {
    guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
      throw MigrationError.badFileName("AccountAccess/Migrations (missing from the bundle)")
    }
    return try Migration.load(component: "account_access", from: directory)
  }
}
