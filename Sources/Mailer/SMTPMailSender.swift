import Foundation
public import Logging
import NIOCore
import NIOPosix
import NIOSSL

/// Hands each message to an SMTP server (RFC 5321): EHLO, STARTTLS when configured (or TLS
/// from the start), AUTH PLAIN when credentials are set, then one envelope per message.
/// Any unexpected reply fails the send, and the outbox retries it later.
public struct SMTPMailSender: MailSender {
  private let settings: SMTPSettings
  private let sender: String
  private let logger: Logger

  public init(settings: SMTPSettings, sender: String, logger: Logger) {
    self.settings = settings
    self.sender = sender
    self.logger = logger
  }

  public enum Failure: Error, CustomStringConvertible {
    case unexpectedReply(command: String, reply: String)
    case startTLSNotOffered
    case connectionClosed(during: String)
    case timedOut

    public var description: String {
      switch self {
      case .unexpectedReply(let command, let reply):
        "SMTP server answered \(command) with: \(reply)"
      case .startTLSNotOffered: "the SMTP server does not offer STARTTLS, which is required"
      case .connectionClosed(let step): "the SMTP server closed the connection during \(step)"
      case .timedOut: "the SMTP exchange timed out"
      }
    }
  }

  public func send(_ mail: OutgoingMail, messageID: String) async throws {
    let message = MessageFormat.render(mail, from: sender, messageID: messageID)
    let envelopeFrom = Self.address(in: sender)
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await exchange(message: message, from: envelopeFrom, to: mail.recipient) }
      group.addTask {
        try await Task.sleep(for: settings.timeout)
        throw Failure.timedOut
      }
      defer { group.cancelAll() }
      try await group.next()
    }
    logger.info(
      "mail handed to SMTP",
      metadata: ["to": "\(mail.recipient)", "host": "\(settings.host)"]
    )
  }

  private func exchange(message: String, from: String, to recipient: String) async throws {
    let tls = try makeTLSContext()
    let host = settings.host
    let implicitTLS = settings.security == .implicitTLS
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .connectTimeout(.seconds(10))
      .connect(host: host, port: settings.port) { channel in
        channel.eventLoop.makeCompletedFuture {
          if implicitTLS, let tls {
            try channel.pipeline.syncOperations.addHandler(
              NIOSSLClientHandler(context: tls, serverHostname: host)
            )
          }
          try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
          return try NIOAsyncChannel<String, ByteBuffer>(wrappingChannelSynchronously: channel)
        }
      }
    try await channel.executeThenClose { inbound, outbound in
      var session = SMTPSession(lines: inbound.makeAsyncIterator(), outbound: outbound)
      try await session.expect([220], after: "greeting")
      var capabilities = try await session.command("EHLO \(settings.clientName)", expect: [250])
      if settings.security == .startTLS {
        guard capabilities.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }), let tls
        else {
          throw Failure.startTLSNotOffered
        }
        _ = try await session.command("STARTTLS", expect: [220])
        // Encrypt from here on: the TLS handler goes in front of the line decoder.
        try await channel.channel.pipeline.addHandler(
          try NIOSSLClientHandler(context: tls, serverHostname: host),
          position: .first
        )
        capabilities = try await session.command("EHLO \(settings.clientName)", expect: [250])
      }
      if let username = settings.username, let password = settings.password {
        let token = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
        _ = try await session.command(
          "AUTH PLAIN \(token)",
          expect: [235],
          redacted: "AUTH PLAIN ***"
        )
      }
      _ = try await session.command("MAIL FROM:<\(from)>", expect: [250])
      _ = try await session.command("RCPT TO:<\(recipient)>", expect: [250, 251])
      _ = try await session.command("DATA", expect: [354])
      _ = try await session.command(
        Self.dotStuffed(message) + "\r\n.",
        expect: [250],
        redacted: "<message>"
      )
      _ = try? await session.command("QUIT", expect: [221])
    }
  }

  private func makeTLSContext() throws -> NIOSSLContext? {
    guard settings.security != .none else { return nil }
    var configuration = TLSConfiguration.makeClientConfiguration()
    if let file = settings.trustRootsFile {
      configuration.trustRoots = .file(file)
    }
    return try NIOSSLContext(configuration: configuration)
  }

  /// Lines that start with "." get another one (RFC 5321 §4.5.2); line ends become CRLF.
  static func dotStuffed(_ message: String) -> String {
    message.replacingOccurrences(of: "\r\n", with: "\n").split(
      separator: "\n",
      omittingEmptySubsequences: false
    )
    .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
    .joined(separator: "\r\n")
  }

  /// "Guance <no-reply@x>" → "no-reply@x".
  static func address(in mailbox: String) -> String {
    if let open = mailbox.lastIndex(of: "<"), let close = mailbox.lastIndex(of: ">"), open < close {
      return String(mailbox[mailbox.index(after: open)..<close])
    }
    return mailbox.trimmingCharacters(in: .whitespaces)
  }
}

/// One SMTP conversation: commands out, (multi-line) replies in.
private struct SMTPSession {
  var lines: NIOAsyncChannelInboundStream<String>.AsyncIterator
  let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

  /// Sends `text` and returns the reply's lines when its code is expected.
  mutating func command(
    _ text: String,
    expect codes: Set<Int>,
    redacted: String? = nil
  )
    async throws -> [String]
  {
    try await outbound.write(ByteBuffer(string: text + "\r\n"))
    return try await expect(codes, after: redacted ?? text)
  }

  /// Reads one reply ("250-a", "250-b", "250 c") and checks its code.
  @discardableResult
  mutating func expect(_ codes: Set<Int>, after step: String) async throws -> [String] {
    var texts: [String] = []
    while true {
      guard let line = try await lines.next() else {
        throw SMTPMailSender.Failure.connectionClosed(during: step)
      }
      let code = Int(line.prefix(3)) ?? 0
      texts.append(String(line.dropFirst(4)))
      let isLast = line.count < 4 || line[line.index(line.startIndex, offsetBy: 3)] != "-"
      guard isLast else { continue }
      guard codes.contains(code) else {
        throw SMTPMailSender.Failure.unexpectedReply(command: step, reply: line)
      }
      return texts
    }
  }
}

/// Splits the server's byte stream into lines without their CRLF.
private struct SMTPLineDecoder: ByteToMessageDecoder {
  typealias InboundOut = String

  mutating func decode(
    context: ChannelHandlerContext,
    buffer: inout ByteBuffer
  ) throws
    -> DecodingState
  {
    guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
      // A reply line is at most 512 octets (RFC 5321 §4.5.3.1.5); refuse endless input.
      if buffer.readableBytes > 4096 {
        throw SMTPMailSender.Failure.connectionClosed(during: "an overlong reply")
      }
      return .needMoreData
    }
    let length = newline - buffer.readerIndex + 1
    guard var line = buffer.readString(length: length) else { return .needMoreData }
    // Byte-wise: Swift sees "\r\n" as one Character, so hasSuffix("\n") would miss it.
    while let last = line.utf8.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
      line.removeLast()
    }
    context.fireChannelRead(NIOAny(line))
    return .continue
  }
}
