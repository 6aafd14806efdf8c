import Synchronization

/// Lets background workers wait until the server's start-up (migrations) has finished, so
/// they never poll tables that do not exist yet.
public final class StartupGate: Sendable {
  private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

  public init() {}

  public func open() {
    let waiters = state.withLock { state in
      state.open = true
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Returns once `open()` has been called.
  public func wait() async {
    await withCheckedContinuation { continuation in
      let alreadyOpen = state.withLock { state in
        if state.open { return true }
        state.waiters.append(continuation)
        return false
      }
      if alreadyOpen { continuation.resume() }
    }
  }
}
