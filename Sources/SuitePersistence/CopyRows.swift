public import Foundation
public import NIOCore
import SuiteKit

/// Rows for `COPY … FROM STDIN` in PostgreSQL's text format, written into one buffer: columns
/// separated by tabs, rows ended by newlines, text escaped. COPY puts a batch of rows into a
/// table at a fraction of the server's cost of an INSERT of the same rows (one heap write and
/// WAL record for many rows), which is what the usage ledger's ingestion is measured against.
public struct CopyRows: Sendable {
  public private(set) var buffer: ByteBuffer
  private var rowIsEmpty = true

  public init(capacity: Int = 0) {
    buffer = ByteBuffer()
    buffer.reserveCapacity(capacity)
  }

  /// A text column. Backslash, tab, newline and carriage return are escaped; every other byte
  /// is written as it is.
  public mutating func append(_ text: String) {
    separate()
    var text = text
    text.withUTF8 { bytes in
      var start = 0
      for (index, byte) in bytes.enumerated() {
        let escaped: UInt8? =
          switch byte {
          case UInt8(ascii: "\\"): UInt8(ascii: "\\")
          case UInt8(ascii: "\t"): UInt8(ascii: "t")
          case UInt8(ascii: "\n"): UInt8(ascii: "n")
          case UInt8(ascii: "\r"): UInt8(ascii: "r")
          default: nil
          }
        guard let escaped else { continue }
        buffer.writeBytes(
          UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        )
        buffer.writeInteger(UInt8(ascii: "\\"))
        buffer.writeInteger(escaped)
        start = index + 1
      }
      buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start...])))
    }
  }

  /// A uuid column, written digit by digit (`uuidString` goes through `sprintf`).
  public mutating func append(_ uuid: UUID) {
    separate()
    uuid.withCanonicalUTF8 { buffer.writeBytes($0) }
  }

  /// A timestamptz column, in UTC to the microsecond: the microsecond PostgresNIO binds the
  /// same `Date` as (truncated), so a value stored either way is the same.
  public mutating func append(_ time: Date) {
    separate()
    let sincePostgresEpoch = Int64(time.timeIntervalSince(Self.postgresEpoch) * 1_000_000)
    let micros = sincePostgresEpoch + 946_684_800 * 1_000_000
    let seconds = Self.floorDivision(micros, 1_000_000)
    let days = Self.floorDivision(seconds, 86400)
    let (year, month, day) = Self.civilDate(daysSince1970: days)
    let secondOfDay = seconds - days * 86400
    write(year, digits: 4)
    buffer.writeInteger(UInt8(ascii: "-"))
    write(month, digits: 2)
    buffer.writeInteger(UInt8(ascii: "-"))
    write(day, digits: 2)
    buffer.writeInteger(UInt8(ascii: " "))
    write(secondOfDay / 3600, digits: 2)
    buffer.writeInteger(UInt8(ascii: ":"))
    write(secondOfDay / 60 % 60, digits: 2)
    buffer.writeInteger(UInt8(ascii: ":"))
    write(secondOfDay % 60, digits: 2)
    buffer.writeInteger(UInt8(ascii: "."))
    write(micros - seconds * 1_000_000, digits: 6)
    buffer.writeString("+00")
  }

  /// Ends the row under way.
  public mutating func endRow() {
    buffer.writeInteger(UInt8(ascii: "\n"))
    rowIsEmpty = true
  }

  private mutating func separate() {
    if !rowIsEmpty { buffer.writeInteger(UInt8(ascii: "\t")) }
    rowIsEmpty = false
  }

  /// `value` (not negative) in decimal, padded with zeros to `digits`; years after 9999 are
  /// longer.
  private mutating func write(_ value: Int64, digits: Int) {
    var width = digits
    var rest = value / Self.powersOfTen[digits]
    while rest > 0 {
      width += 1
      rest /= 10
    }
    for place in stride(from: width - 1, through: 0, by: -1) {
      let digit = place < Self.powersOfTen.count ? value / Self.powersOfTen[place] % 10 : 0
      buffer.writeInteger(UInt8(ascii: "0") + UInt8(digit))
    }
  }

  private static let powersOfTen: [Int64] = (0...18).map { power in
    (0..<power).reduce(1) { product, _ in product * 10 }
  }

  private static let postgresEpoch = Date(timeIntervalSince1970: 946_684_800)

  private static func floorDivision(_ value: Int64, _ divisor: Int64) -> Int64 {
    let quotient = value / divisor
    return value % divisor < 0 ? quotient - 1 : quotient
  }

  /// The proleptic Gregorian date of a day counted from 1970-01-01: days are counted in
  /// 400-year eras of 146,097 days from 0000-03-01, years starting in March so that a leap day
  /// is its year's last, and the month found from the day of that year (153 days a 5 months).
  private static func civilDate(daysSince1970 days: Int64) -> (Int64, Int64, Int64) {
    let shifted = days + 719_468
    let era = floorDivision(shifted, 146_097)
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthFromMarch = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
  }
}
