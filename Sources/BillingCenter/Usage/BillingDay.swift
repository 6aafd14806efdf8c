public import Foundation

/// A UTC calendar day, the unit Guance bills by.
public struct BillingDay: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// Days since 1970-01-01.
  public let ordinal: Int

  public init(ordinal: Int) {
    self.ordinal = ordinal
  }

  /// "YYYY-MM-DD", a real date.
  public init?(_ text: String) {
    let parts = text.split(separator: "-")
    guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]),
      let day = Int(parts[2]), (1970...9999).contains(year)
    else { return nil }
    var components = DateComponents()
    (components.year, components.month, components.day) = (year, month, day)
    guard let date = Self.calendar.date(from: components),
      Self.calendar.dateComponents([.year, .month, .day], from: date) == components
    else { return nil }
    self.ordinal = Int(date.timeIntervalSince1970 / 86400)
  }

  /// The day `date` falls on (UTC).
  public init(containing date: Date) {
    ordinal = Int((date.timeIntervalSince1970 / 86400).rounded(.down))
  }

  public var start: Date { Date(timeIntervalSince1970: Double(ordinal) * 86400) }
  public var end: Date { Date(timeIntervalSince1970: Double(ordinal + 1) * 86400) }
  public var next: BillingDay { BillingDay(ordinal: ordinal + 1) }

  public var description: String {
    let components = Self.calendar.dateComponents([.year, .month, .day], from: start)
    return String(
      format: "%04d-%02d-%02d",
      components.year ?? 0,
      components.month ?? 0,
      components.day ?? 0
    )
  }

  /// The days of month "YYYY-MM".
  public static func month(_ text: String) -> ClosedRange<BillingDay>? {
    guard text.count == 7, let first = BillingDay(text + "-01") else { return nil }
    let comps = calendar.dateComponents([.year, .month], from: first.start)
    guard let range = calendar.range(of: .day, in: .month, for: first.start), comps.year != nil
    else {
      return nil
    }
    return first...BillingDay(ordinal: first.ordinal + range.count - 1)
  }

  public static func < (lhs: BillingDay, rhs: BillingDay) -> Bool { lhs.ordinal < rhs.ordinal }

  static let calendar: Calendar = {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
    return calendar
  }()
}
