import Synchronization

/// The request bytes a server holds that are not yet whole messages, across all its
/// connections (one server per process: the process's). Each connection counts its own as well
/// (`SuiteConnectionHandler`); a stream whose bytes would take either count past its limit is
/// refused with RESOURCE_EXHAUSTED and its bytes freed. Without the bounds, streams that send
/// all but the last byte of a large message held 4 MiB each, on as many streams and
/// connections as a client opens.
final class RequestBuffer: Sendable {
  let limit: Int
  private let held = Atomic(0)

  init(limit: Int) { self.limit = limit }

  /// Takes `bytes` (released when negative); false, and nothing taken, when that would pass the limit.
  func take(_ bytes: Int) -> Bool {
    guard bytes > 0 else {
      held.subtract(-bytes, ordering: .relaxed)
      return true
    }
    guard held.add(bytes, ordering: .relaxed).newValue > limit else { return true }
    held.subtract(bytes, ordering: .relaxed)
    return false
  }

  var bytes: Int { held.load(ordering: .relaxed) }
}
