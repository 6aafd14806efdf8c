import ServiceLifecycle
import Synchronization

/// Lets background workers wait until the server's start-up (migrations) has finished, so
/// they never poll tables that do not exist yet — or until it never will (the process was
/// stopped or failed first), so that they end with it instead of waiting forever.
public final class StartupGate: Sendable {
  private struct State {
    var opened: Bool?
    var waiters: [CheckedContinuation<Bool, Never>] = []
  }

  private let state = Mutex(State())

  public init() {}

  /// Start-up finished: waiters go on.
  public func open() { finish(opened: true) }

  /// Start-up will not finish: waiters are told to stop.
  public func abandon() { finish(opened: false) }

  private func finish(opened: Bool) {
    let waiters = state.withLock { state in
      guard state.opened == nil else { return [CheckedContinuation<Bool, Never>]() }
      state.opened = opened
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume(returning: opened) }
  }

  /// Whether start-up has finished, without waiting for it.
  public var isOpen: Bool { state.withLock { $0.opened == true } }

  /// Waits for the end of start-up; true when it finished, false when it was abandoned.
  public func wait() async -> Bool {
    await withCheckedContinuation { continuation in
      let settled = state.withLock { state -> Bool? in
        if let opened = state.opened { return opened }
        state.waiters.append(continuation)
        return nil
      }
      if let settled { continuation.resume(returning: settled) }
    }
  }

  /// For a background service of the same group: whether it may start its work. When
  /// start-up was abandoned it must still not end before the group stops it (ServiceLifecycle
  /// counts an early return as a failure), so this then waits for the group's shutdown.
  public func mayStart() async -> Bool {
    if await wait() { return true }
    try? await gracefulShutdown()
    return false
  }
}
