import Foundation
public import Logging
public import PostgresNIO
public import SuitePersistence

/// The `mail_outbox` table: where services leave mail, inside their own transactions.
public enum MailOutbox {
  /// The table's schema, applied with the owning service's migrations.
  public static func migrations() throws -> [Migration] {
    return try Migration.load(component: "mail_outbox", bundle: .module)
  }

  /// Queues `mail`; it is sent only if the surrounding transaction commits.
  public static func enqueue(
    _ mail: OutgoingMail,
    on connection: PostgresConnection,
    logger: Logger
  ) async throws {
    try await connection.execute(
      """
      INSERT INTO mail_outbox (id, recipient, subject, body)
      VALUES (\(UUID()), \(mail.recipient), \(mail.subject), \(mail.body))
      """,
      logger: logger
    )
  }
}
