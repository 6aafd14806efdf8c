public import Foundation

/// Quantities and money: decimals with at most six places, never floating point.
public enum Quantity {
  /// Parses "1250.5": non-negative, at most 18 integer digits and 6 decimals.
  public static func parse(_ text: String) -> Decimal? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count), let whole = parts.first,
      (1...18).contains(whole.count), whole.allSatisfy(\.isASCIIDigit),
      parts.count == 1 || (1...6).contains(parts[1].count) && parts[1].allSatisfy(\.isASCIIDigit)
    else { return nil }
    return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
  }

  /// The decimal as plain text ("1250.5"), as the wire and PostgreSQL's numeric expect.
  public static func text(_ value: Decimal) -> String {
    var value = value
    var rounded = Decimal()
    NSDecimalRound(&rounded, &value, 6, .bankers)
    return NSDecimalNumber(decimal: rounded).description(
      withLocale: Locale(identifier: "en_US_POSIX")
    )
  }

  /// `quantity / unitSize × unitPriceMicros`, rounded half-even to a whole micro-dollar.
  public static func amountMicros(
    quantity: Decimal,
    unitSize: Int64,
    unitPriceMicros: Int64
  )
    -> Int64
  {
    var exact = quantity * Decimal(unitPriceMicros) / Decimal(unitSize)
    var rounded = Decimal()
    NSDecimalRound(&rounded, &exact, 0, .bankers)
    return NSDecimalNumber(decimal: rounded).int64Value
  }

  /// `quantity / unitSize`, to six places: the metering quantity in a dimension's units.
  public static func units(quantity: Decimal, unitSize: Int64) -> Decimal {
    var exact = quantity / Decimal(unitSize)
    var rounded = Decimal()
    NSDecimalRound(&rounded, &exact, 6, .bankers)
    return rounded
  }
}

extension Character {
  var isASCIIDigit: Bool { isASCII && isNumber }
}
