import Foundation

/// Why the process refused to start: a configuration variable is missing or malformed.
public enum ConfigError: Error, CustomStringConvertible, Equatable {
  case missing(variable: String)
  case invalid(variable: String, value: String, expected: String)

  public var description: String {
    switch self {
    case .missing(let variable):
      "missing configuration: set the environment variable \(variable)"
    case .invalid(let variable, let value, let expected):
      "invalid configuration: \(variable)=\(value.debugDescription) (expected \(expected))"
    }
  }
}

/// Reads typed settings from the environment once, at start-up, and fails fast naming the
/// variable at fault.
public struct ConfigReader: Sendable {
  private let values: [String: String]

  /// Reads the process environment, or `environment` when given (tests).
  public init(environment: [String: String]? = nil) {
    self.values = environment ?? ProcessInfo.processInfo.environment
  }

  /// The raw value, with empty strings treated as unset.
  public func optional(_ variable: String) -> String? {
    guard let value = values[variable]?.trimmingCharacters(in: .whitespaces), !value.isEmpty
    else { return nil }
    return value
  }

  public func string(_ variable: String, default fallback: String) -> String {
    optional(variable) ?? fallback
  }

  public func required(_ variable: String) throws(ConfigError) -> String {
    guard let value = optional(variable) else { throw .missing(variable: variable) }
    return value
  }

  public func int(
    _ variable: String,
    default fallback: Int,
    range: ClosedRange<Int> = 0...Int.max
  ) throws(ConfigError) -> Int {
    guard let text = optional(variable) else { return fallback }
    guard let value = Int(text), range.contains(value) else {
      throw .invalid(
        variable: variable,
        value: text,
        expected: "an integer in \(range.lowerBound)...\(range.upperBound)"
      )
    }
    return value
  }

  public func bool(_ variable: String, default fallback: Bool) throws(ConfigError) -> Bool {
    guard let text = optional(variable) else { return fallback }
    switch text.lowercased() {
    case "1", "true", "yes", "on": return true
    case "0", "false", "no", "off": return false
    default: throw .invalid(variable: variable, value: text, expected: "true or false")
    }
  }

  /// A duration given in whole seconds.
  public func seconds(
    _ variable: String,
    default fallback: Duration,
    range: ClosedRange<Int> = 0...Int.max
  ) throws(ConfigError) -> Duration {
    guard optional(variable) != nil else { return fallback }
    return .seconds(try int(variable, default: 0, range: range))
  }
}
