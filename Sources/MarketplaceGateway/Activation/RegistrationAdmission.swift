import Synchronization

/// How many calls that register a new account (`RegisterAndActivate`, `CreateWorkspace` with a
/// new Guance account) this gateway has under way at once. Each hashes a password in the
/// billing center and another in the console, whose hash pools bound the whole path; a call
/// beyond the bound is refused at once (`ActivationError.overloaded`, RESOURCE_EXHAUSTED with a
/// retry delay) rather than queued behind the others: in a flood, every queued buyer would
/// wait seconds, and the refused ones try again a moment later.
final class RegistrationAdmission: Sendable {
  private let limit: Int
  private let underWay = Mutex(0)

  init(limit: Int) { self.limit = max(1, limit) }

  func withPlace<Result>(_ body: () async throws -> Result) async throws -> Result {
    let admitted = underWay.withLock { count in
      guard count < limit else { return false }
      count += 1
      return true
    }
    guard admitted else { throw ActivationError.overloaded }
    defer { underWay.withLock { $0 -= 1 } }
    return try await body()
  }
}
