/// A phone number in E.164 form ("+14155550100"); spaces, dashes, dots and brackets that
/// people type are dropped first.
public struct PhoneNumber: Sendable, Hashable, CustomStringConvertible {
  public let value: String

  public init(_ raw: String) throws(FieldProblem) {
    let compact = raw.filter { !" -.()\t".contains($0) }
    guard compact.first == "+" else {
      throw FieldProblem("must be in international E.164 form, like +14155550100")
    }
    let digits = compact.dropFirst()
    guard (7...15).contains(digits.count), digits.allSatisfy({ $0.isASCII && $0.isNumber }),
      digits.first != "0"
    else { throw FieldProblem("must be in international E.164 form, like +14155550100") }
    self.value = compact
  }

  /// Nil for an empty optional field.
  public static func optional(_ raw: String) throws(FieldProblem) -> PhoneNumber? {
    raw.trimmingASCIIWhitespace().isEmpty ? nil : try PhoneNumber(raw)
  }

  public var description: String { value }
}
