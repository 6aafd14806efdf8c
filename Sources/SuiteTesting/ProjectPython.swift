import Foundation

/// The project's Python environment (`scripts/python-env.sh`), for test peers written in
/// Python: the SMTP server, later grpcio clients.
public enum ProjectPython {
  public enum Failure: Error, CustomStringConvertible {
    case unavailable(String)

    public var description: String {
      switch self {
      case .unavailable(let output): "scripts/python-env.sh failed:\n\(output)"
      }
    }
  }

  /// Path of the interpreter: `SUITE_PYTHON` when `make test` set it, otherwise made now.
  public static func interpreter() throws -> String {
    if let path = ProcessInfo.processInfo.environment["SUITE_PYTHON"] { return path }
    let process = Process()
    process.executableURL = ServiceProcess.packageRoot.appendingPathComponent(
      "scripts/python-env.sh"
    )
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0,
      let path = text.split(separator: "\n").last.map(String.init), path.hasSuffix("python")
    else { throw Failure.unavailable(text) }
    return path
  }

  /// A file of the package, e.g. "Tests/Support/smtp_sink.py".
  public static func packageFile(_ relativePath: String) -> String {
    ServiceProcess.packageRoot.appendingPathComponent(relativePath).path
  }
}
