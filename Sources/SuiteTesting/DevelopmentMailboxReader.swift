public import Foundation

/// Reads the development mailbox the way a person reads their inbox: finds the newest
/// message to an address and takes the 6-digit code from its text.
public struct DevelopmentMailboxReader: Sendable {
  public let directory: URL

  public init(directory: URL) {
    self.directory = directory
  }

  public enum Failure: Error, CustomStringConvertible {
    case noMail(String)

    public var description: String {
      switch self {
      case .noMail(let recipient): "no mail with a code reached \(recipient) in time"
      }
    }
  }

  /// Every message to `recipient`, oldest first.
  public func messages(to recipient: String) -> [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return files.filter { $0.hasSuffix(".eml") }.sorted().compactMap { file in
      guard
        let text = try? String(
          contentsOf: directory.appendingPathComponent(file),
          encoding: .utf8
        ),
        text.components(separatedBy: "\r\n").contains("To: \(recipient)")
      else { return nil }
      return text
    }
  }

  /// The code in the newest message to `recipient` beyond the first `skipping` ones,
  /// waiting for it to arrive.
  public func code(
    for recipient: String,
    skipping earlier: Int = 0,
    timeout: Duration = .testPatience
  ) async throws -> String {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      let messages = messages(to: recipient)
      if messages.count > earlier, let last = messages.last, let code = Self.code(in: last) {
        return code
      }
      try await Task.sleep(for: .milliseconds(50))
    }
    throw Failure.noMail(recipient)
  }

  static func code(in message: String) -> String? {
    guard let range = message.range(of: #"\b[0-9]{6}\b"#, options: .regularExpression) else {
      return nil
    }
    return String(message[range])
  }
}
