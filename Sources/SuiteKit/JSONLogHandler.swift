import Foundation
public import Logging

/// `LOG_FORMAT=json`: one JSON object per line on stderr, for log collectors that parse
/// fields rather than text: `time` (RFC 3339, UTC, milliseconds), `level`, `logger` (the
/// process's name), `message`, then every metadata field as a string (the request id, the
/// method, the error...), nested metadata as objects and arrays.
public struct JSONLogHandler: LogHandler {
  public var logLevel: Logger.Level = .info
  public var metadata: Logger.Metadata = [:]
  public var metadataProvider: Logger.MetadataProvider?
  private let label: String
  private let write: @Sendable (String) -> Void

  public init(
    label: String,
    metadataProvider: Logger.MetadataProvider? = nil,
    write: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
  ) {
    self.label = label
    self.metadataProvider = metadataProvider
    self.write = write
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields = metadata
    if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
    if let given = event.metadata { fields.merge(given) { _, new in new } }
    var line = "{\"time\":\(Self.quoted(Self.timestamp()))"
    line += ",\"level\":\(Self.quoted(event.level.rawValue))"
    line += ",\"logger\":\(Self.quoted(label))"
    line += ",\"message\":\(Self.quoted(event.message.description))"
    for (key, value) in fields.sorted(by: { $0.key < $1.key })
    where !["time", "level", "logger", "message"].contains(key) {
      line += ",\(Self.quoted(key)):\(Self.json(value))"
    }
    write(line + "}\n")
  }

  public static let standardError: @Sendable (String) -> Void = { line in
    FileHandle.standardError.write(Data(line.utf8))
  }

  static func json(_ value: Logger.Metadata.Value) -> String {
    switch value {
    case .string(let text): quoted(text)
    case .stringConvertible(let convertible): quoted(convertible.description)
    case .array(let values): "[" + values.map(json).joined(separator: ",") + "]"
    case .dictionary(let fields):
      "{"
        + fields.sorted(by: { $0.key < $1.key }).map { "\(quoted($0.key)):\(json($0.value))" }
        .joined(separator: ",") + "}"
    }
  }

  /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped.
  static func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      case _ where scalar.value < 0x20:
        out +=
          "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
          + String(scalar.value, radix: 16)
      default: out.unicodeScalars.append(scalar)
      }
    }
    return out + "\""
  }

  private static func timestamp() -> String {
    Date.now.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
  }
}
