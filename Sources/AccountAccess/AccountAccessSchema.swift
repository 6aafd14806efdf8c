import Foundation
public import SuitePersistence

/// The tables of sessions, login throttling and emailed codes, applied with the owning
/// service's migrations (each service keeps them in its own database).
public enum AccountAccessSchema {
  public static func migrations() throws -> [Migration] {
    return try Migration.load(component: "account_access", bundle: .module)
  }
}
