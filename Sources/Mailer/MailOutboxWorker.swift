import Foundation
public import Logging
import PostgresNIO
public import ServiceLifecycle
public import SuiteKit
public import SuitePersistence

/// Drains `mail_outbox` through a `MailSender`. Rows are claimed with `FOR UPDATE SKIP
/// LOCKED`, so several replicas share the work and no mail is sent twice by two of them;
/// failures are retried with growing delays and their reason kept on the row.
public struct MailOutboxWorker: Service {
  private let database: Database
  private let sender: any MailSender
  private let logger: Logger
  private let pollInterval: Duration
  private let batchSize: Int
  private let startAfter: StartupGate?

  /// - Parameter startAfter: opened once the schema exists (after migrations).
  public init(
    database: Database,
    sender: any MailSender,
    logger: Logger,
    startAfter: StartupGate? = nil,
    pollInterval: Duration = .milliseconds(200),
    batchSize: Int = 20
  ) {
    self.startAfter = startAfter
    self.database = database
    self.sender = sender
    self.logger = logger
    self.pollInterval = pollInterval
    self.batchSize = batchSize
  }

  public func run() async throws {
    await drainEvery(pollInterval, startingAfter: startAfter) {
      do {
        return try await drainOnce() >= batchSize
      } catch {
        logger.warning("mail outbox pass failed", metadata: ["error": "\(error)"])
        return false
      }
    }
  }

  /// Sends one batch of due mail; returns how many rows it handled.
  @discardableResult
  public func drainOnce() async throws -> Int {
    let batchSize = self.batchSize
    let sender = self.sender
    let logger = self.logger
    return try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        SELECT id, recipient, subject, body, attempts FROM mail_outbox
        WHERE sent_at IS NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT \(batchSize)
        FOR UPDATE SKIP LOCKED
        """,
        logger: logger
      )
      var handled = 0
      for try await (id, recipient, subject, body, attempts)
        in rows.decode((UUID, String, String, String, Int).self)
      {
        handled += 1
        let mail = OutgoingMail(recipient: recipient, subject: subject, body: body)
        do {
          try await sender.send(mail, messageID: id.uuidString.lowercased())
          try await connection.execute(
            "UPDATE mail_outbox SET sent_at = now(), attempts = attempts + 1 WHERE id = \(id)",
            logger: logger
          )
        } catch {
          let delaySeconds = min(3600, 1 << min(attempts + 1, 12))
          logger.warning(
            "mail delivery failed; will retry",
            metadata: ["mail-id": "\(id)", "attempt": "\(attempts + 1)", "error": "\(error)"]
          )
          try await connection.execute(
            """
            UPDATE mail_outbox
            SET attempts = attempts + 1, last_error = \(String(describing: error)),
                next_attempt_at = now() + make_interval(secs => \(delaySeconds))
            WHERE id = \(id)
            """,
            logger: logger
          )
        }
      }
      return handled
    }
  }
}
