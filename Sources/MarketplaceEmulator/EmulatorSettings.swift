public import SuiteKit

/// The emulator's configuration: the publisher it serves and where to send people.
public struct EmulatorSettings: Sendable {
  public var host: String
  public var port: Int
  /// The publisher's Entra tenant and app registration (what the gateway authenticates as).
  public var tenantID: String
  public var clientID: String
  public var clientSecret: String
  /// Where the purchase's "Configure account" button leads (the gateway's landing page).
  public var landingURL: String
  /// How long landing tokens stay valid.
  public var tokenLifetime: Double
  /// The publisher's webhook ("Connection webhook" in Technical configuration); none → no posts.
  public var webhookURL: String?
  /// Unanswered ChangePlan/ChangeQuantity are accepted this long after delivery (10 s).
  public var autoAcceptAfter: Duration = .seconds(10)
  /// The clock by which usage events' 24 hours are judged (`USAGE_CLOCK_OFFSET_SECONDS`).
  public var usageClock: UsageClock = .wall

  public init(
    host: String = "127.0.0.1",
    port: Int = 0,
    tenantID: String,
    clientID: String,
    clientSecret: String,
    landingURL: String,
    tokenLifetime: Double = 86400,
    webhookURL: String? = nil
  ) {
    self.webhookURL = webhookURL
    self.host = host
    self.port = port
    self.tenantID = tenantID
    self.clientID = clientID
    self.clientSecret = clientSecret
    self.landingURL = landingURL
    self.tokenLifetime = tokenLifetime
  }

  /// `EMULATOR_HOST`, `EMULATOR_PORT` (7300), `MARKETPLACE_TENANT_ID`, `MARKETPLACE_CLIENT_ID`,
  /// `MARKETPLACE_CLIENT_SECRET`, `EMULATOR_LANDING_URL`, `EMULATOR_TOKEN_LIFETIME_SECONDS`,
  /// `EMULATOR_WEBHOOK_URL`, `EMULATOR_AUTO_ACCEPT_SECONDS`, `USAGE_CLOCK_OFFSET_SECONDS`.
  public init(config: ConfigReader) throws(ConfigError) {
    self.init(
      host: config.string("EMULATOR_HOST", default: "127.0.0.1"),
      port: try config.int("EMULATOR_PORT", default: 7300, range: 0...65535),
      tenantID: try config.required("MARKETPLACE_TENANT_ID"),
      clientID: try config.required("MARKETPLACE_CLIENT_ID"),
      clientSecret: try config.required("MARKETPLACE_CLIENT_SECRET"),
      landingURL: config.string("EMULATOR_LANDING_URL", default: "http://127.0.0.1:7180/landing"),
      tokenLifetime: Double(
        try config.int("EMULATOR_TOKEN_LIFETIME_SECONDS", default: 86400, range: 1...604_800)
      ),
      webhookURL: config.optional("EMULATOR_WEBHOOK_URL")
    )
    autoAcceptAfter = try config.seconds(
      "EMULATOR_AUTO_ACCEPT_SECONDS",
      default: .seconds(10),
      range: 1...3600
    )
    usageClock = try UsageClock(config: config)
  }
}
