public import Foundation

extension UUID {
  /// Parses the 36-character form ("8f14e45f-ceea-467f-a0e6-3f4e1a9c2b10", hex digits in either
  /// case), as `UUID(uuidString:)` does, without going through `sscanf`: on the usage path the
  /// billing center parses a thousand workspace ids a batch, and `sscanf` alone was 2.5 % of the
  /// machine's CPU.
  public init?(canonical text: String) {
    var text = text
    let parsed: uuid_t? = text.withUTF8 { bytes in
      guard bytes.count == 36 else { return nil }
      var value: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
      var index = 0
      var failed = false
      withUnsafeMutableBytes(of: &value) { out in
        for byte in 0..<16 {
          // Hyphens sit before the 5th, 7th, 9th and 11th bytes.
          if byte == 4 || byte == 6 || byte == 8 || byte == 10 {
            guard bytes[index] == UInt8(ascii: "-") else {
              failed = true
              return
            }
            index += 1
          }
          guard let high = Self.hexValue(bytes[index]), let low = Self.hexValue(bytes[index + 1])
          else {
            failed = true
            return
          }
          out[byte] = high << 4 | low
          index += 2
        }
      }
      return failed ? nil : value
    }
    guard let parsed else { return nil }
    self.init(uuid: parsed)
  }

  /// The 36-character form in lower case, as `uuidString.lowercased()` gives it, without
  /// `snprintf` and a second string: for hot paths (every LookupWorkspace answer carries two).
  public var canonicalText: String {
    withCanonicalUTF8 { String(decoding: $0, as: UTF8.self) }
  }

  /// `body` given the 36 bytes of `canonicalText`, written digit by digit and never made a
  /// string (a COPY row takes them as they are).
  public func withCanonicalUTF8<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 36) { out in
      withUnsafeBytes(of: uuid) { bytes in
        var index = 0
        for byte in 0..<16 {
          if byte == 4 || byte == 6 || byte == 8 || byte == 10 {
            out[index] = UInt8(ascii: "-")
            index += 1
          }
          out[index] = Self.hexDigits[Int(bytes[byte] >> 4)]
          out[index + 1] = Self.hexDigits[Int(bytes[byte] & 0x0f)]
          index += 2
        }
      }
      return body(UnsafeBufferPointer(out))
    }
  }

  private static let hexDigits = Array("0123456789abcdef".utf8)

  private static func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
  }
}
