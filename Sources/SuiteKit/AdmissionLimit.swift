import Synchronization

/// At most `limit` holders at once; one more is turned away at once rather than queued. For
/// work whose excess is refused with RESOURCE_EXHAUSTED: password hashes (`PasswordHasher`),
/// and the gateway's registrations, each of which waits on two of them.
public final class AdmissionLimit: Sendable {
  private let limit: Int
  private let held = Mutex(0)

  public init(limit: Int) { self.limit = max(1, limit) }

  /// Takes a place if one is free; whether it did. Each place taken is given back by `release`.
  public func admit() -> Bool {
    held.withLock { count in
      guard count < limit else { return false }
      count += 1
      return true
    }
  }

  public func release() {
    held.withLock { $0 -= 1 }
  }
}
