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
