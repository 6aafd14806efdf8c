import Foundation
import Logging
import Mailer
import SuiteTesting
import Testing

/// The SMTP sender against a real SMTP server (Python's aiosmtpd) on loopback.
@Suite("Sending mail over SMTP")
struct SMTPMailSenderTests {
  /// A running test SMTP server and the folder its received messages land in.
  final class Sink: @unchecked Sendable {
    let process = Process()
    let port: Int
    let directory: URL

    init(work: URL, certificate: (cert: String, key: String)?, auth: String?) async throws {
      directory = work.appendingPathComponent("received")
      let portFile = work.appendingPathComponent("smtp.port")
      process.executableURL = URL(fileURLWithPath: try ProjectPython.interpreter())
      var arguments = [
        ProjectPython.packageFile("Tests/Support/smtp_sink.py"), "--dir", directory.path,
        "--port-file", portFile.path,
      ]
      if let certificate {
        arguments += ["--tls-cert", certificate.cert, "--tls-key", certificate.key]
      }
      if let auth { arguments += ["--auth", auth] }
      process.arguments = arguments
      // Its own log file: an inherited pipe would keep the test runner waiting after we exit.
      let log = work.appendingPathComponent("smtp.log")
      try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
      _ = FileManager.default.createFile(atPath: log.path, contents: nil)
      let handle = try FileHandle(forWritingTo: log)
      process.standardOutput = handle
      process.standardError = handle
      try process.run()
      let deadline = ContinuousClock.now + .testPatience
      while ContinuousClock.now < deadline {
        if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
          self.port = port
          return
        }
        try await Task.sleep(for: .milliseconds(50))
      }
      process.terminate()
      throw CancellationError()
    }

    var received: [String] {
      let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
      return files.sorted().compactMap {
        try? String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)
      }
    }

    deinit {
      process.terminate()
      process.waitUntilExit()
    }
  }

  /// A self-signed certificate for "localhost", made with openssl.
  static func makeCertificate(in work: URL) throws -> (cert: String, key: String) {
    let cert = work.appendingPathComponent("cert.pem").path
    let key = work.appendingPathComponent("key.pem").path
    let openssl = Process()
    openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    openssl.arguments = [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]
    openssl.standardError = FileHandle.nullDevice
    try openssl.run()
    openssl.waitUntilExit()
    #expect(openssl.terminationStatus == 0)
    return (cert, key)
  }

  static func withWorkDirectory(_ body: (URL) async throws -> Void) async throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "smtp-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    try await body(work)
  }

  static let mail = OutgoingMail(
    recipient: "alice@example.com",
    subject: "Your Guance verification code",
    body: "Your code is 123456.\n.a line starting with a dot\nbye"
  )

  @Test("STARTTLS, AUTH PLAIN and the message arrive intact")
  func startTLSAndAuth() async throws {
    try await Self.withWorkDirectory { work in
      let certificate = try Self.makeCertificate(in: work)
      let sink = try await Sink(work: work, certificate: certificate, auth: "mailer:s3cret")
      let sender = SMTPMailSender(
        settings: SMTPSettings(
          host: "localhost",
          port: sink.port,
          security: .startTLS,
          username: "mailer",
          password: "s3cret",
          trustRootsFile: certificate.cert
        ),
        sender: "Guance <no-reply@guance.local>",
        logger: Logger(label: "smtp-test")
      )
      try await sender.send(Self.mail, messageID: "m1")
      let received = try #require(sink.received.first)
      #expect(received.contains("X-Envelope-From: no-reply@guance.local"))
      #expect(received.contains("X-Envelope-To: alice@example.com"))
      #expect(received.contains("X-TLS: True"))
      #expect(received.contains("X-Authenticated: True"))
      #expect(received.contains("Subject: Your Guance verification code"))
      #expect(received.contains("Your code is 123456."))
      #expect(received.contains("\n.a line starting with a dot"))
    }
  }

  @Test("a wrong password, an untrusted certificate or no STARTTLS fail the send")
  func failures() async throws {
    try await Self.withWorkDirectory { work in
      let certificate = try Self.makeCertificate(in: work)
      let secure = try await Sink(
        work: work.appendingPathComponent("a"),
        certificate: certificate,
        auth: "mailer:s3cret"
      )
      let logger = Logger(label: "smtp-test")
      let wrongPassword = SMTPMailSender(
        settings: SMTPSettings(
          host: "localhost",
          port: secure.port,
          security: .startTLS,
          username: "mailer",
          password: "guess",
          trustRootsFile: certificate.cert
        ),
        sender: "no-reply@guance.local",
        logger: logger
      )
      await #expect(throws: SMTPMailSender.Failure.self) {
        try await wrongPassword.send(Self.mail, messageID: "m2")
      }

      let untrusted = SMTPMailSender(
        settings: SMTPSettings(host: "localhost", port: secure.port, security: .startTLS),
        sender: "no-reply@guance.local",
        logger: logger
      )
      await #expect(throws: (any Error).self) {
        try await untrusted.send(Self.mail, messageID: "m3")
      }

      let plain = try await Sink(
        work: work.appendingPathComponent("b"),
        certificate: nil,
        auth: nil
      )
      let demandsTLS = SMTPMailSender(
        settings: SMTPSettings(host: "localhost", port: plain.port, security: .startTLS),
        sender: "no-reply@guance.local",
        logger: logger
      )
      await #expect(throws: SMTPMailSender.Failure.self) {
        try await demandsTLS.send(Self.mail, messageID: "m4")
      }
      #expect(secure.received.isEmpty)
      #expect(plain.received.isEmpty)

      // A local relay without TLS is allowed when asked for explicitly.
      let relay = SMTPMailSender(
        settings: SMTPSettings(host: "localhost", port: plain.port, security: .none),
        sender: "no-reply@guance.local",
        logger: logger
      )
      try await relay.send(Self.mail, messageID: "m5")
      #expect(plain.received.count == 1)
    }
  }
}
