import Crypto

/// Six-digit codes mailed to prove control of an address (ASVS 5 §6.5–6.6): drawn from the
/// CSPRNG, stored only as a digest bound to their challenge, valid 10 minutes, 5 tries.
public enum VerificationCode {
  public static let lifetime: Duration = .seconds(600)
  public static let maxAttempts = 5
  public static let resendInterval: Duration = .seconds(60)
  public static let maxSendsPerHour = 5

  public static func generate() -> String {
    var generator = SystemRandomNumberGenerator()
    let number = UInt32.random(in: 0..<1_000_000, using: &generator)
    let digits = String(number)
    return String(repeating: "0", count: 6 - digits.count) + digits
  }

  /// The digest stored for `code`, salted with its challenge so equal codes differ.
  public static func digest(code: String, challengeID: String) -> [UInt8] {
    Array(SHA256.hash(data: Array("\(challengeID):\(code)".utf8)))
  }

  /// Compares in time independent of where the digests differ.
  public static func matches(code: String, challengeID: String, storedDigest: [UInt8]) -> Bool {
    let presented = digest(code: code, challengeID: challengeID)
    guard presented.count == storedDigest.count else { return false }
    return zip(presented, storedDigest).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
  }

  /// Whether `code` looks like one we send: six ASCII digits.
  public static func isWellFormed(_ code: String) -> Bool {
    code.utf8.count == 6
      && code.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
  }
}
