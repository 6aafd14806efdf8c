/// An email address, trimmed and lower-cased so that one mailbox is one account.
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
  public let value: String

  public init(_ raw: String) throws(FieldProblem) {
    let candidate = raw.trimmingASCIIWhitespace().lowercased()
    guard !candidate.isEmpty else { throw FieldProblem("is required") }
    guard candidate.utf8.count <= 254 else { throw FieldProblem("must be at most 254 characters") }
    let parts = candidate.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, let local = parts.first, let domain = parts.last else {
      throw FieldProblem("must be an email address like name@example.com")
    }
    guard (1...64).contains(local.utf8.count), local.utf8.allSatisfy(Self.isLocalByte),
      !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
    else { throw FieldProblem("has an invalid part before '@'") }
    let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
    guard labels.count >= 2, labels.allSatisfy(Self.isDomainLabel),
      let tld = labels.last, tld.utf8.count >= 2, !tld.utf8.allSatisfy(Self.isDigit)
    else { throw FieldProblem("has an invalid domain after '@'") }
    self.value = candidate
  }

  public var description: String { value }

  /// "a***@example.com": enough for a person to recognise their own address.
  public var masked: String {
    let parts = value.split(separator: "@")
    guard parts.count == 2, let first = parts[0].first else { return "***" }
    return "\(first)***@\(parts[1])"
  }

  private static func isDigit(_ byte: UInt8) -> Bool {
    (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
  }

  private static func isAlphanumeric(_ byte: UInt8) -> Bool {
    isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
  }

  private static func isLocalByte(_ byte: UInt8) -> Bool {
    isAlphanumeric(byte) || "!#$%&'*+/=?^_`{|}~.-".utf8.contains(byte)
  }

  private static func isDomainLabel(_ label: Substring) -> Bool {
    (1...63).contains(label.utf8.count)
      && label.utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
      && !label.hasPrefix("-") && !label.hasSuffix("-")
  }
}
