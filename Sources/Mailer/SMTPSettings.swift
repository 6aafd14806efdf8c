public import SuiteKit

/// Where and how to hand mail to an SMTP server (`MAILER=smtp`).
public struct SMTPSettings: Sendable {
  public enum Security: String, Sendable {
    /// Plain connection upgraded with STARTTLS before anything else is said (port 587).
    case startTLS = "starttls"
    /// TLS from the first byte (port 465).
    case implicitTLS = "tls"
    /// No encryption: only for a relay on the same host or a test server.
    case none = "plain"
  }

  public var host: String
  public var port: Int
  public var security: Security
  public var username: String?
  public var password: String?
  /// PEM file of the CA that signs the server's certificate; the system's roots when nil.
  public var trustRootsFile: String?
  /// The name we greet the server with (EHLO).
  public var clientName: String
  public var timeout: Duration

  public init(
    host: String,
    port: Int,
    security: Security,
    username: String? = nil,
    password: String? = nil,
    trustRootsFile: String? = nil,
    clientName: String = "localhost",
    timeout: Duration = .seconds(30)
  ) {
    self.host = host
    self.port = port
    self.security = security
    self.username = username
    self.password = password
    self.trustRootsFile = trustRootsFile
    self.clientName = clientName
    self.timeout = timeout
  }

  /// `SMTP_HOST` (required), `SMTP_PORT` (587), `SMTP_SECURITY` (starttls | tls | plain),
  /// `SMTP_USERNAME` and `SMTP_PASSWORD` (together or not at all), `SMTP_CA_FILE`,
  /// `SMTP_CLIENT_NAME`, `SMTP_TIMEOUT_SECONDS`.
  public init(config: ConfigReader) throws(ConfigError) {
    let securityText = config.string("SMTP_SECURITY", default: Security.startTLS.rawValue)
    guard let security = Security(rawValue: securityText) else {
      throw .invalid(
        variable: "SMTP_SECURITY",
        value: securityText,
        expected: "starttls, tls or plain"
      )
    }
    let username = config.optional("SMTP_USERNAME")
    let password = config.optional("SMTP_PASSWORD")
    if (username == nil) != (password == nil) {
      throw username == nil
        ? .missing(variable: "SMTP_USERNAME") : .missing(variable: "SMTP_PASSWORD")
    }
    self.init(
      host: try config.required("SMTP_HOST"),
      port: try config.int(
        "SMTP_PORT",
        default: security == .implicitTLS ? 465 : 587,
        range: 1...65535
      ),
      security: security,
      username: username,
      password: password,
      trustRootsFile: config.optional("SMTP_CA_FILE"),
      clientName: config.string("SMTP_CLIENT_NAME", default: "localhost"),
      timeout: try config.seconds("SMTP_TIMEOUT_SECONDS", default: .seconds(30), range: 1...600)
    )
  }
}
