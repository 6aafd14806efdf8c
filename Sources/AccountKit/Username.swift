/// A login name: 3–32 of `[a-z0-9._-]`, compared case-insensitively (stored lower case).
public struct Username: Sendable, Hashable, CustomStringConvertible {
  public let value: String

  public init(_ raw: String) throws(FieldProblem) {
    let candidate = raw.trimmingASCIIWhitespace().lowercased()
    guard !candidate.isEmpty else { throw FieldProblem("is required") }
    guard (3...32).contains(candidate.utf8.count) else {
      throw FieldProblem("must be 3 to 32 characters long")
    }
    guard candidate.utf8.allSatisfy(Self.isAllowed) else {
      throw FieldProblem("may contain only letters a-z, digits, '.', '_' and '-'")
    }
    self.value = candidate
  }

  public var description: String { value }

  private static func isAllowed(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
      UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
      true
    default: false
    }
  }
}

extension String {
  /// Trims spaces, tabs and line breaks at both ends (Foundation-free).
  func trimmingASCIIWhitespace() -> String {
    let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    guard let first = firstIndex(where: { !isSpace($0) }),
      let last = lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(self[first...last])
  }
}
