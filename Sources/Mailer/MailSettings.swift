public import Foundation
public import Logging
public import SuiteKit

/// How this process delivers mail: `MAILER=dev` (the default) writes files into `MAILBOX_DIR`;
/// `MAILER=smtp` hands it to the server named by `SMTP_HOST` (see `SMTPSettings`).
public struct MailSettings: Sendable {
  public enum Delivery: Sendable {
    case developmentMailbox(directory: URL)
    case smtp(SMTPSettings)
  }

  public var delivery: Delivery
  /// The From header, e.g. "Guance <no-reply@guance.example>".
  public var sender: String

  public init(delivery: Delivery, sender: String) {
    self.delivery = delivery
    self.sender = sender
  }

  public init(config: ConfigReader) throws(ConfigError) {
    let sender = config.string("MAIL_FROM", default: "Guance <no-reply@guance.local>")
    switch config.string("MAILER", default: "dev") {
    case "dev":
      let directory = config.string("MAILBOX_DIR", default: ".run/mailbox")
      self.init(
        delivery: .developmentMailbox(directory: URL(fileURLWithPath: directory)),
        sender: sender
      )
    case "smtp":
      self.init(delivery: .smtp(try SMTPSettings(config: config)), sender: sender)
    case let other:
      throw .invalid(variable: "MAILER", value: other, expected: "dev or smtp")
    }
  }

  public func makeSender(logger: Logger) throws -> any MailSender {
    switch delivery {
    case .developmentMailbox(let directory):
      try DevelopmentMailbox(directory: directory, sender: sender, logger: logger)
    case .smtp(let settings):
      SMTPMailSender(settings: settings, sender: sender, logger: logger)
    }
  }
}
