import SuiteErrors

/// A workspace's name: 1–64 characters once trimmed, no control characters. The console
/// keeps it; the activation checks it too, before it creates anything else.
public struct WorkspaceName: Sendable, Hashable, CustomStringConvertible {
  public let value: String

  public init(_ raw: String) throws(FieldProblem) {
    let name = raw.trimmingWhitespace()
    guard !name.isEmpty else { throw FieldProblem("is required") }
    guard name.count <= 64 else { throw FieldProblem("must be at most 64 characters") }
    guard !name.containsControlCharacters() else {
      throw FieldProblem("must not contain control characters")
    }
    self.value = name
  }

  public var description: String { value }
}

extension String {
  /// Trims whitespace and line breaks at both ends, Unicode's included (Foundation-free).
  func trimmingWhitespace() -> String {
    guard let first = firstIndex(where: { !$0.isWhitespace }),
      let last = lastIndex(where: { !$0.isWhitespace })
    else { return "" }
    return String(self[first...last])
  }
}
