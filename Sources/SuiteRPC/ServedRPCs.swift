import Foundation
import Synchronization

/// With `SUITE_RPC_RECORD` naming a file, each RPC method this process serves is added to it
/// once, as "package.Service/Method": how `make test` learns which RPCs its tests called, in
/// every process it starts and in its own in-process servers (`scripts/rpc_coverage.py`).
/// Unset, as anywhere but in the tests, nothing is kept and an RPC pays one nil check.
final class ServedRPCs: Sendable {
  /// The record every server-side `RPCMetrics.Method` of this process writes to, if any.
  static let shared: ServedRPCs? = ProcessInfo.processInfo.environment["SUITE_RPC_RECORD"]
    .flatMap { $0.isEmpty ? nil : ServedRPCs(path: $0) }

  private let path: String
  private let written = Mutex<Set<String>>([])

  init(path: String) {
    self.path = path
  }

  /// Adds `method` to the file unless this process already did. One line per `write` on a
  /// file opened to append: processes writing at once do not interleave their lines.
  func served(_ method: String) {
    guard written.withLock({ $0.insert(method).inserted }) else { return }
    let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let line = Array((method + "\n").utf8)
    _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
  }
}
