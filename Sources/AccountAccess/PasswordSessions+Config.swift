public import SuiteKit

extension PasswordSessions.Policy {
  /// `SESSION_IDLE_TIMEOUT_SECONDS`, `SESSION_ABSOLUTE_LIFETIME_SECONDS`,
  /// `LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR` (at most 100, per ASVS) and
  /// `LOGIN_MAX_FAILURES_PER_PEER_PER_HOUR`.
  public init(config: ConfigReader) throws(ConfigError) {
    self.init()
    idleTimeout = try config.seconds(
      "SESSION_IDLE_TIMEOUT_SECONDS",
      default: idleTimeout,
      range: 60...86400
    )
    absoluteLifetime = try config.seconds(
      "SESSION_ABSOLUTE_LIFETIME_SECONDS",
      default: absoluteLifetime,
      range: 300...(30 * 86400)
    )
    maxFailuresPerLoginPerHour = try config.int(
      "LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR",
      default: maxFailuresPerLoginPerHour,
      range: 1...100
    )
    maxFailuresPerPeerPerHour = try config.int(
      "LOGIN_MAX_FAILURES_PER_PEER_PER_HOUR",
      default: maxFailuresPerPeerPerHour,
      range: 1...1_000_000
    )
  }
}
