import Crypto

/// Opaque bearer tokens for sessions: 256 random bits, base64url; only their SHA-256 is stored.
public enum SessionToken {
  /// A new token and the digest to store for it.
  public static func generate() -> (token: String, digest: [UInt8]) {
    let token = base64URL(randomBytes(count: 32))
    return (token, digest(of: token))
  }

  /// The digest to look a presented token up by.
  public static func digest(of token: String) -> [UInt8] {
    Array(SHA256.hash(data: Array(token.utf8)))
  }

  /// Whether `token` has the shape of one we issued (43 base64url characters), so malformed
  /// ones are turned away without a database lookup.
  public static func isWellFormed(_ token: String) -> Bool {
    token.utf8.count == 43
      && token.utf8.allSatisfy { byte in
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
          UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
          true
        default: false
        }
      }
  }

  /// Bytes from the system's CSPRNG (getrandom on Linux).
  public static func randomBytes(count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
  }

  static func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var output: [UInt8] = []
    output.reserveCapacity((bytes.count * 4 + 2) / 3)
    var index = 0
    while index < bytes.count {
      let chunk = bytes[index..<min(index + 3, bytes.count)]
      var value: UInt32 = 0
      for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * offset) }
      let characters = chunk.count + 1
      for position in 0..<characters {
        output.append(alphabet[Int((value >> (18 - 6 * position)) & 0x3F)])
      }
      index += 3
    }
    return String(decoding: output, as: UTF8.self)
  }
}
