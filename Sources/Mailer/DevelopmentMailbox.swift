public import Foundation
public import Logging

/// Development and test delivery: each message becomes one `.eml` file in a folder (and a log
/// line), where a developer or a test reads it as a person reads their inbox.
public struct DevelopmentMailbox: MailSender {
  public let directory: URL
  private let sender: String
  private let logger: Logger

  public init(directory: URL, sender: String, logger: Logger) throws {
    self.directory = directory
    self.sender = sender
    self.logger = logger
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  public func send(_ mail: OutgoingMail, messageID: String) async throws {
    let stamp = Int(Date().timeIntervalSince1970 * 1000)
    let file = directory.appendingPathComponent("\(stamp)-\(messageID).eml")
    let message = MessageFormat.render(mail, from: sender, messageID: messageID)
    // Written whole under a temporary name, then renamed, so readers never see half a file.
    let temporary = directory.appendingPathComponent(".\(messageID).tmp")
    try Data(message.utf8).write(to: temporary)
    guard rename(temporary.path, file.path) == 0 else {
      throw CocoaError(.fileWriteUnknown)
    }
    logger.info(
      "mail delivered to the development mailbox",
      metadata: ["to": "\(mail.recipient)", "subject": "\(mail.subject)", "file": "\(file.path)"]
    )
  }
}

/// RFC 5322 text of a plain message, shared by the mailbox and SMTP.
enum MessageFormat {
  static func render(_ mail: OutgoingMail, from sender: String, messageID: String) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
    let domain =
      sender.split(separator: "@").last.map { $0.trimmingCharacters(in: ["<", ">", " "]) }
      ?? "localhost"
    let body = mail.body.replacingOccurrences(of: "\r\n", with: "\n")
      .replacingOccurrences(of: "\n", with: "\r\n")
    return [
      "From: \(sender)",
      "To: \(mail.recipient)",
      "Subject: \(mail.subject)",
      "Date: \(formatter.string(from: Date()))",
      "Message-ID: <\(messageID)@\(domain)>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      body,
    ].joined(separator: "\r\n")
  }
}
