public import Foundation

/// Quantities and money: decimals with at most six places, never floating point.
public enum Quantity {
  /// Parses "1250.5": non-negative, at most 18 integer digits and 6 decimals.
  public static func parse(_ text: String) -> Decimal? {
    guard let (whole, fraction, places) = digits(of: text) else { return nil }
    let value = Decimal(whole)
    guard fraction > 0 else { return value }
    return value + Decimal(sign: .plus, exponent: -places, significand: Decimal(fraction))
  }

  /// The whole part, the decimals and how many there are, of a quantity `parse` accepts. Read
  /// byte by byte: usage batches check a thousand quantities, and Foundation's decimal parser
  /// (with a locale made for each) was the largest part of the billing center's own CPU there.
  static func digits(of text: String) -> (whole: UInt64, fraction: UInt64, places: Int)? {
    var text = text
    return text.withUTF8 { bytes in
      var whole: UInt64 = 0
      var wholeDigits = 0
      var fraction: UInt64 = 0
      var places = 0
      var seenPoint = false
      for byte in bytes {
        if byte == UInt8(ascii: ".") {
          guard !seenPoint else { return nil }
          seenPoint = true
          continue
        }
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let digit = UInt64(byte - UInt8(ascii: "0"))
        if seenPoint {
          fraction = fraction * 10 + digit
          places += 1
          guard places <= 6 else { return nil }
        } else {
          // 18 digits fit in a UInt64 (under 10^18 < 2^63).
          whole = whole * 10 + digit
          wholeDigits += 1
          guard wholeDigits <= 18 else { return nil }
        }
      }
      guard wholeDigits > 0, !seenPoint || places > 0 else { return nil }
      return (whole, fraction, places)
    }
  }

  /// The decimal as plain text ("1250.5"), as the wire and PostgreSQL's numeric expect: at
  /// most 6 decimals, rounded half-even.
  public static func text(_ value: Decimal) -> String {
    var value = value
    var rounded = Decimal()
    NSDecimalRound(&rounded, &value, 6, .bankers)
    return NSDecimalNumber(decimal: rounded).description(withLocale: posix)
  }

  private static let posix = Locale(identifier: "en_US_POSIX")

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

/// A usage event's quantity as its caller wrote it, once `Quantity.parse` accepted it. The
/// ledger stores the text as written, which PostgreSQL's numeric reads exactly: writing a
/// `Decimal` out again cost the usage path more than reading it.
public struct UsageQuantity: Sendable, Equatable {
  public let text: String

  public init?(_ text: String) {
    guard Quantity.digits(of: text) != nil else { return nil }
    self.text = text
  }
}
