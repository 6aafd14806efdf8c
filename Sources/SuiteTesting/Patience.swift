import Foundation
public import NIOCore

extension Duration {
  /// How long a test waits for something that should happen (a reply, a mail, a state, a
  /// process start) before calling it a failure. Long on purpose: a test waits for the event
  /// itself and goes on the moment it comes, so the whole wait is spent only when something is
  /// broken, and a loaded 2-core CI machine is slow. Checks of a limit the product promises
  /// (a backoff, a keepalive) are made against clocks the test controls, not against this.
  public static let testPatience = Duration.seconds(90)
}

extension TimeAmount {
  /// `Duration.testPatience`, for NIO's and AsyncHTTPClient's timeouts.
  public static let testPatience = TimeAmount.seconds(Duration.testPatience.components.seconds)
}

/// Checks `condition` until it holds or `patience` has passed; whether it held. For states a
/// test cannot be told about (a row written, a status changed), checked every 100 ms.
public func eventually(
  within patience: Duration = .testPatience,
  _ condition: () async throws -> Bool
) async throws -> Bool {
  let start = ContinuousClock.now
  while start.duration(to: .now) < patience {
    if try await condition() { return true }
    try await Task.sleep(for: .milliseconds(100))
  }
  return try await condition()
}

/// What a process wrote to its ready file (`host:port`: where it serves), once it has; nil when
/// nothing came within `patience`, or as soon as `alive` says the writer is gone. The file is
/// written once the process serves, so there is no event to wait for but its appearance.
public func readyAddress(
  at path: String,
  within patience: Duration = .testPatience,
  while alive: () -> Bool = { true }
) async throws -> String? {
  let start = ContinuousClock.now
  while start.duration(to: .now) < patience {
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    let address = text.trimmingCharacters(in: .whitespacesAndNewlines)
    if !address.isEmpty { return address }
    guard alive() else { return nil }
    try await Task.sleep(for: .milliseconds(25))
  }
  return nil
}
