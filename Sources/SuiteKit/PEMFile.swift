import class Foundation.FileManager

/// A PEM file named by a variable: checked readable at start-up, so a typo fails the start
/// rather than the first connection.
package enum PEMFile {
  package static func read(
    _ variable: String,
    _ config: ConfigReader
  ) throws(ConfigError) -> String? {
    guard let path = config.optional(variable), !path.isEmpty else { return nil }
    guard FileManager.default.isReadableFile(atPath: path) else {
      throw .invalid(variable: variable, value: path, expected: "a readable PEM file")
    }
    return path
  }
}
