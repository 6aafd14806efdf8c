import Foundation
import SwiftProtobuf

/// A plain-text table: a header, one line per row, columns as wide as their widest cell.
struct Table {
  var headers: [String]
  var rows: [[String]] = []

  init(_ headers: String...) { self.headers = headers }

  mutating func add(_ cells: String...) { rows.append(cells) }

  func print(empty: String = "(none)") {
    guard !rows.isEmpty else {
      Swift.print(empty)
      return
    }
    let widths = headers.indices.map { column in
      ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
    }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { index, cell in
        index == cells.count - 1
          ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
      }.joined(separator: "  ")
    }
    Swift.print(line(headers.map { $0.uppercased() }))
    for row in rows { Swift.print(line(row)) }
  }
}

/// "2026-11-27 10:00:00Z", or "-" for an unset timestamp.
func text(_ timestamp: Google_Protobuf_Timestamp, set: Bool) -> String {
  guard set else { return "-" }
  return timestamp.date.formatted(
    Date.ISO8601FormatStyle().year().month().day().time(includingFractionalSeconds: false)
  )
  .replacingOccurrences(of: "T", with: " ")
}

/// A cell that may be empty.
func text(_ value: String) -> String { value.isEmpty ? "-" : value }
