import struct Foundation.Data
import struct Foundation.URL
import func Foundation.rename

/// Tells whoever started the process (tests, `make run`) where it listens: `host:port`,
/// written whole under a temporary name and renamed, so readers never see half a line.
public enum ReadyFile {
  public static func write(_ path: String, endpoint: String) throws {
    let temporary = path + ".tmp"
    try Data("\(endpoint)\n".utf8).write(to: URL(fileURLWithPath: temporary))
    guard rename(temporary, path) == 0 else { throw ReadyFileError(path: path) }
  }

  struct ReadyFileError: Error, CustomStringConvertible {
    var path: String
    var description: String { "cannot write the ready file \(path)" }
  }
}
