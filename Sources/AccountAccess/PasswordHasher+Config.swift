public import AccountKit
public import SuiteKit

extension PasswordHasher {
  /// `PASSWORD_HASH_WORKERS` (2) hashes at once, `PASSWORD_HASH_QUEUE` (32) waiting.
  public convenience init(config: ConfigReader) throws(ConfigError) {
    self.init(
      workers: try config.int("PASSWORD_HASH_WORKERS", default: 2, range: 1...64),
      maxQueued: try config.int("PASSWORD_HASH_QUEUE", default: 32, range: 0...10_000)
    )
  }
}
