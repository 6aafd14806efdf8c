public import Foundation

/// A built executable of the suite started as a real process on a free port, as `make run`
/// starts it; stopped with SIGTERM (or killed) by the test.
public final class ServiceProcess: @unchecked Sendable {
  public enum Failure: Error, CustomStringConvertible {
    case notBuilt(String)
    case exitedEarly(String, log: String)
    case didNotStart(String, log: String)
    case noServiceSlot(String)

    public var description: String {
      switch self {
      case .noServiceSlot(let name):
        "\(name) started outside a service slot: tag the test or its suite `.startsServices`"
      case .notBuilt(let path): "\(path) does not exist: build first (`make test` does)"
      case .exitedEarly(let name, let log): "\(name) exited during start-up:\n\(log)"
      case .didNotStart(let name, let log): "\(name) did not report ready in time:\n\(log)"
      }
    }
  }

  public let name: String
  /// "127.0.0.1:PORT" once started.
  public private(set) var address = ""
  public var port: Int { Int(address.split(separator: ":").last ?? "") ?? 0 }
  private let process = Process()
  private let logFile: URL
  private let readyFile: URL

  /// Where the executables are: `SUITE_BIN_DIR` (set by `make test`) or `.build/debug`.
  public static var binaryDirectory: URL {
    if let dir = ProcessInfo.processInfo.environment["SUITE_BIN_DIR"] {
      return URL(fileURLWithPath: dir)
    }
    return packageRoot.appendingPathComponent(".build/debug")
  }

  static var packageRoot: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent()
  }

  /// Starts `name` with `environment` (plus a free port and a ready file) and waits until it
  /// serves.
  public init(
    _ name: String,
    environment: [String: String],
    workDirectory: URL,
    timeout: Duration = .testPatience
  ) async throws {
    self.name = name
    let executable = Self.binaryDirectory.appendingPathComponent(name)
    guard FileManager.default.isExecutableFile(atPath: executable.path) else {
      throw Failure.notBuilt(executable.path)
    }
    guard ServiceSlots.isHeld else { throw Failure.noServiceSlot(name) }
    try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
    logFile = try TestLogs.file(for: name, else: workDirectory)
    readyFile = workDirectory.appendingPathComponent("\(name).ready")
    try? FileManager.default.removeItem(at: readyFile)
    _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
    let log = try FileHandle(forWritingTo: logFile)
    log.seekToEndOfFile()

    process.executableURL = executable
    process.environment = [
      "GRPC_PORT": "0", "METRICS_PORT": "0", "LOG_LEVEL": "info", "PATH": "/usr/bin:/bin",
    ]
    // Where `make test` records the RPCs its tests called (`scripts/rpc_coverage.py`).
    .merging(ProcessInfo.processInfo.environment.filter { $0.key == "SUITE_RPC_RECORD" }) { $1 }
    .merging(environment) { $1 }
    .merging(["READY_FILE": readyFile.path]) { $1 }
    process.standardOutput = log
    process.standardError = log
    try process.run()
    try await waitUntilReady(timeout: timeout)
  }

  private func waitUntilReady(timeout: Duration) async throws {
    let process = self.process
    if let address = try await readyAddress(
      at: readyFile.path,
      within: timeout,
      while: { process.isRunning }
    ) {
      self.address = address
      return
    }
    guard process.isRunning else { throw Failure.exitedEarly(name, log: self.log) }
    process.terminate()
    throw Failure.didNotStart(name, log: self.log)
  }

  public var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

  /// Where its operator port serves `/metrics` (`host:port`, from the ready file's
  /// ".metrics" sibling), once it does; nil until then or when metrics are off.
  public var metricsAddress: String? {
    let path = readyFile.path + ".metrics"
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let address = text.trimmingCharacters(in: .whitespacesAndNewlines)
    return address.isEmpty ? nil : address
  }

  public var isRunning: Bool { process.isRunning }

  /// SIGTERM, then waits for the exit; returns the exit status.
  @discardableResult
  public func stop(timeout: Duration = .seconds(20)) async -> Int32 {
    if process.isRunning { process.terminate() }
    return await waitForExit(timeout: timeout)
  }

  /// SIGKILL: a crash, as far as the service can tell.
  public func kill() async {
    if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    _ = await waitForExit(timeout: .seconds(10))
  }

  private func waitForExit(timeout: Duration) async -> Int32 {
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    while process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
    return process.terminationStatus
  }

  deinit {
    if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
  }
}
