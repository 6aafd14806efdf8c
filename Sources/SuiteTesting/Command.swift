public import Foundation

/// A command run to completion, for tests that drive scripts and foreign clients (the C
/// client, grpcio, openssl, guancectl): its exit status and what it printed on standard output.
public enum Command {
  /// `mergingErrors`: standard error is captured with standard output (to read refusals). A
  /// command still running after `timeout`, or when the test is cancelled, is terminated (a
  /// hung client fails its test instead of hanging `make test`).
  ///
  /// The wait happens on a thread of its own: blocking one of Swift's cooperative threads (two on
  /// a 2-core machine) for the seconds a foreign client runs would stall every other test's
  /// tasks, in-process servers included, and make their deadlines pass.
  public static func run(
    _ executable: String,
    _ arguments: [String] = [],
    environment: [String: String]? = nil,
    mergingErrors: Bool = false,
    timeout: Duration = .testPatience * 4
  ) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    process.standardOutput = output
    if mergingErrors { process.standardError = output }
    try process.run()
    let reader = output.fileHandleForReading
    let watchdog = Task {
      try await Task.sleep(for: timeout)
      process.terminate()
    }
    defer { watchdog.cancel() }
    let data = await withTaskCancellationHandler {
      await withCheckedContinuation { (done: CheckedContinuation<Data, Never>) in
        Thread.detachNewThread {
          // Read before waiting: a full pipe would otherwise block the child forever.
          let data = reader.readDataToEndOfFile()
          process.waitUntilExit()
          done.resume(returning: data)
        }
      }
    } onCancel: {
      process.terminate()
    }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// A TCP port free on 127.0.0.1 now, for a process that must be told its port before it starts
  /// (a page origin named in another's configuration, say).
  public static func freePort() async throws -> Int {
    let (_, output) = try await run(
      "/usr/bin/python3",
      [
        "-c",
        "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
      ]
    )
    return Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }
}
