import Foundation
import Logging
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import Testing
import WorkspaceConsole

@Suite("The mail outbox")
struct MailOutboxTests {
  struct BrokenSender: MailSender {
    struct Down: Error, CustomStringConvertible {
      var description: String { "connection refused by mail.example" }
    }
    func send(_ mail: OutgoingMail, messageID: String) async throws { throw Down() }
  }

  @Test("mail that cannot be delivered stays queued with its reason, and is sent later")
  func retries() async throws {
    try await TestDatabase.withMigratedDatabase(PostgresConsoleStore.migrations()) { _, database in
      let logger = Logger(label: "outbox-test")
      try await database.transaction { connection in
        try await MailOutbox.enqueue(
          OutgoingMail(recipient: "a@example.com", subject: "s", body: "b"),
          on: connection,
          logger: logger
        )
      }
      let broken = MailOutboxWorker(database: database, sender: BrokenSender(), logger: logger)
      // The database's clock before the attempt: the retry must come at least the first
      // backoff (2 s) after it. (Comparing with now() after the attempt failed whenever a loaded
      // machine took longer than those 2 s to get there.)
      var before = Date.distantFuture
      for try await now in try await database.query("SELECT now()").decode(Date.self) {
        before = now
      }
      #expect(try await broken.drainOnce() == 1)
      let rows = try await database.query(
        """
        SELECT attempts, last_error, sent_at IS NULL, next_attempt_at >= \(before) + interval '2 seconds'
        FROM mail_outbox
        """
      )
      for try await (attempts, error, unsent, later) in rows.decode((Int, String?, Bool, Bool).self)
      {
        #expect(attempts == 1)
        #expect(error == "connection refused by mail.example")
        #expect(unsent)
        #expect(later)
      }
      // Not due yet: nothing to do. (The first retry comes 2 s later; pushed further here so a
      // slow machine cannot make it due before the check.)
      try await database.query("UPDATE mail_outbox SET next_attempt_at = now() + interval '1 hour'")
      #expect(try await broken.drainOnce() == 0)

      try await database.query("UPDATE mail_outbox SET next_attempt_at = now()")
      let mailbox = FileManager.default.temporaryDirectory.appendingPathComponent(
        "outbox-\(UUID().uuidString)"
      )
      defer { try? FileManager.default.removeItem(at: mailbox) }
      let working = MailOutboxWorker(
        database: database,
        sender: try DevelopmentMailbox(
          directory: mailbox,
          sender: "t@guance.local",
          logger: logger
        ),
        logger: logger
      )
      #expect(try await working.drainOnce() == 1)
      #expect(DevelopmentMailboxReader(directory: mailbox).messages(to: "a@example.com").count == 1)
      #expect(try await working.drainOnce() == 0)
    }
  }
}
