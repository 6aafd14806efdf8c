/// One plain-text message to one recipient.
public struct OutgoingMail: Sendable, Equatable {
  public var recipient: String
  public var subject: String
  public var body: String

  public init(recipient: String, subject: String, body: String) {
    self.recipient = recipient
    self.subject = subject
    self.body = body
  }
}

/// Delivers mail somewhere: an SMTP server in production, files in development.
public protocol MailSender: Sendable {
  /// Throws when delivery failed and should be retried later.
  func send(_ mail: OutgoingMail, messageID: String) async throws
}
