public import Foundation

/// A command run to completion, for tests that drive scripts and foreign clients (the C
/// client, grpcio, openssl): its exit status and what it printed on standard output.
public enum Command {
  /// `mergingErrors`: standard error is captured with standard output (to read refusals).
  public static func run(
    _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, mergingErrors: Bool = false
  ) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    if mergingErrors { process.standardError = output }
    try process.run()
    // Read before waiting: a full pipe would otherwise block the child forever.
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }
}
