import CArgon2
import NIOPosix
public import SuiteErrors
import SuiteKit

#if os(Linux)
import Glibc
#endif

/// Hashes and verifies passwords with argon2id (OWASP: m=19 MiB, t=2, p=1) into PHC strings,
/// on a few dedicated threads so the async executors never block. Work beyond the pool's
/// queue is refused at once: a flood of logins must not queue without limit.
public final class PasswordHasher: Sendable {
  public struct Parameters: Sendable, Equatable {
    public var memoryKiB: UInt32
    public var iterations: UInt32
    public var parallelism: UInt32

    public init(memoryKiB: UInt32 = 19 * 1024, iterations: UInt32 = 2, parallelism: UInt32 = 1) {
      self.memoryKiB = memoryKiB
      self.iterations = iterations
      self.parallelism = parallelism
    }

    /// The PHC parameter segment these produce, to spot hashes made with older settings.
    var phcSegment: String { "m=\(memoryKiB),t=\(iterations),p=\(parallelism)" }
  }

  public enum Failure: Error, ServiceErrorConvertible {
    case overloaded
    case hashingFailed(code: Int32)

    public var serviceError: ServiceError {
      switch self {
      case .overloaded:
        ServiceError(
          .resourceExhausted(retryAfter: .seconds(1)),
          reason: "OVERLOADED",
          "too many requests; retry shortly"
        )
      case .hashingFailed:
        ServiceError(
          .unavailable,
          reason: "PASSWORD_HASHING_FAILED",
          "password hashing failed; retry shortly"
        )
      }
    }
  }

  private let parameters: Parameters
  private let pool: NIOThreadPool
  /// Hashes computed or waiting, at most `workers + maxQueued`.
  private let places: AdmissionLimit
  /// A hash of a random password, verified when the user is unknown so that path costs the same.
  private let dummyHash: String

  /// - Parameters:
  ///   - workers: hashes computed at once (each holds `memoryKiB` of memory).
  ///   - maxQueued: hashes (or logins holding a place, `withPlace`) allowed to wait for a
  ///     worker before more are refused.
  public init(parameters: Parameters = Parameters(), workers: Int = 2, maxQueued: Int = 32) {
    self.parameters = parameters
    self.pool = NIOThreadPool(numberOfThreads: max(1, workers))
    self.places = AdmissionLimit(limit: max(1, workers) + max(0, maxQueued))
    self.dummyHash =
      (try? Self.computeHash(
        Array(SessionToken.randomBytes(count: 16)),
        parameters: parameters
      )) ?? ""
    pool.start()
  }

  deinit {
    pool.shutdownGracefully { _ in }
  }

  /// A PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
  public func hash(_ password: String) async throws -> String {
    try await withPlace { try await $0.hash(password) }
  }

  /// Whether `password` matches `phc`; false for malformed or foreign hashes.
  public func verify(_ password: String, against phc: String) async throws -> Bool {
    try await withPlace { try await $0.verify(password, against: phc) }
  }

  /// Runs `body` holding one of the hashers' places (a worker or a queue place), and its hashes
  /// through `place` spend no other: a login takes its place before it asks the database
  /// anything, so that in a flood the logins beyond the places are refused in the time of a
  /// check, not after queueing for the database first. `overloaded` when none is free.
  public func withPlace<Result: Sendable>(
    _ body: (Place) async throws -> Result
  ) async throws -> Result {
    try admit()
    defer { release() }
    return try await body(Place(hasher: self))
  }

  /// A place at the hashers, held for the length of a `withPlace` body.
  public struct Place: Sendable {
    fileprivate let hasher: PasswordHasher

    public func hash(_ password: String) async throws -> String {
      let hashing = hasher.hashing(password)
      return try await hasher.pool.runIfActive { try PasswordHasher.behindServing(hashing) }
    }

    public func verify(_ password: String, against phc: String) async throws -> Bool {
      let verifying = PasswordHasher.verifying(password, against: phc)
      return try await hasher.pool.runIfActive { try PasswordHasher.behindServing(verifying) }
    }

    /// Spends the time a real verification costs, for an account that does not exist.
    public func verifyAgainstDummy(_ password: String) async throws {
      _ = try await verify(password, against: hasher.dummyHash)
    }
  }

  /// True when `phc` was made with other parameters than today's, so it should be redone
  /// at the next successful login.
  public func needsRehash(_ phc: String) -> Bool {
    !phc.hasPrefix("$argon2id$v=19$\(parameters.phcSegment)$")
  }

  private func admit() throws(Failure) {
    guard places.admit() else { throw .overloaded }
  }

  private func release() {
    places.release()
  }

  /// Runs `work` on a hashing thread made to yield the CPU to the service's other threads:
  /// with as many hashers as cores, a flood of logins at full hash cost otherwise took the
  /// cores from the event loops, and every other RPC (a health probe, a refusal of the flood's
  /// excess) waited its turn behind the hashes. On Linux the nice value is a thread's own
  /// (setpriority(2)); once set it stays, so setting it again costs only the call.
  fileprivate static func behindServing<T>(_ work: () throws -> T) rethrows -> T {
    #if os(Linux)
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, hashingNiceness)
    #endif
    return try work()
  }

  /// The nice value of the hashing threads (the service's own threads keep 0).
  static let hashingNiceness: Int32 = 10

  private func hashing(_ password: String) -> @Sendable () throws -> String {
    let bytes = Array(password.utf8)
    let parameters = self.parameters
    return { try Self.computeHash(bytes, parameters: parameters) }
  }

  private static func verifying(
    _ password: String,
    against phc: String
  ) -> @Sendable () throws -> Bool {
    let bytes = Array(password.utf8)
    return {
      guard phc.hasPrefix("$argon2id$") else { return false }
      return phc.withCString { encoded in
        argon2id_verify(encoded, bytes, bytes.count) == ARGON2_OK.rawValue
      }
    }
  }

  private static func computeHash(_ password: [UInt8], parameters: Parameters) throws -> String {
    let salt = Array(SessionToken.randomBytes(count: 16))
    let hashLength = 32
    let encodedLength = argon2_encodedlen(
      parameters.iterations,
      parameters.memoryKiB,
      parameters.parallelism,
      UInt32(salt.count),
      UInt32(hashLength),
      Argon2_id
    )
    var encoded = [CChar](repeating: 0, count: encodedLength)
    let result = argon2id_hash_encoded(
      parameters.iterations,
      parameters.memoryKiB,
      parameters.parallelism,
      password,
      password.count,
      salt,
      salt.count,
      hashLength,
      &encoded,
      encodedLength
    )
    guard result == ARGON2_OK.rawValue else { throw Failure.hashingFailed(code: result) }
    return String(decoding: encoded.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
