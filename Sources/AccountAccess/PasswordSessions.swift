public import AccountKit
public import Foundation
public import Logging
import PostgresNIO
import SuiteErrors
public import SuitePersistence

/// A signed-in account's session, as its holder may see it.
public struct Session: Sendable, Equatable {
  public var accountID: UUID
  public var createdAt: Date
  /// The earlier of the idle and the absolute expiry.
  public var expiresAt: Date
}

/// What a login needs to know about the account a login name points at.
public struct LoginCandidate: Sendable {
  public var accountID: UUID
  public var passwordHash: String

  public init(accountID: UUID, passwordHash: String) {
    self.accountID = accountID
    self.passwordHash = passwordHash
  }
}

/// Password logins and bearer-token sessions (OWASP ASVS 5 §6.3, §7): unknown logins cost a
/// password verification too, failures are throttled per login name and per peer address,
/// tokens carry 256 random bits and only their SHA-256 is stored, sessions end after an idle
/// period and at an absolute limit.
public struct PasswordSessions: Sendable {
  public struct Policy: Sendable {
    public var idleTimeout: Duration = .seconds(30 * 60)
    public var absoluteLifetime: Duration = .seconds(12 * 3600)
    public var maxFailuresPerLoginPerHour = 100
    public var maxFailuresPerPeerPerHour = 1000

    public init() {}
  }

  private let database: Database
  private let hasher: PasswordHasher
  public let policy: Policy
  private let logger: Logger

  public init(database: Database, hasher: PasswordHasher, policy: Policy, logger: Logger) {
    self.database = database
    self.hasher = hasher
    self.policy = policy
    self.logger = logger
  }

  /// Opens a session for `login` (normalised by the caller: trimmed, lower case).
  /// - Parameters:
  ///   - find: the account `login` names, if any.
  ///   - rehash: stores a stronger hash of the password, when today's parameters have moved on.
  public func login(
    login rawLogin: String,
    password: String,
    peer: String,
    find: (String) async throws -> LoginCandidate?,
    rehash: (UUID, String) async throws -> Void
  ) async throws -> (token: String, session: Session) {
    var validation = Validation()
    let login = rawLogin.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    validation.require((1...254).contains(login.count), "login", "is required")
    validation.require(
      (1...PasswordPolicy.lengthRange.upperBound).contains(password.count),
      "password",
      "is required (at most \(PasswordPolicy.lengthRange.upperBound) characters)"
    )
    try validation.finish()

    // The place at the hashers first: in a flood, logins beyond the places are refused before
    // they ask the database anything.
    return try await hasher.withPlace { hashing in
      let subjects = ["login:\(login)", "peer:\(peer)"]
      let failures = try await failures(subjects: subjects)
      if failures[subjects[0], default: 0] >= policy.maxFailuresPerLoginPerHour
        || failures[subjects[1], default: 0] >= policy.maxFailuresPerPeerPerHour
      {
        throw AccessError.loginThrottled(retryAfter: Self.untilNextHour())
      }

      let candidate = try await find(login)
      let verified: Bool
      if let candidate {
        verified = try await hashing.verify(password, against: candidate.passwordHash)
      } else {
        try await hashing.verifyAgainstDummy(password)
        verified = false
      }
      guard verified, let candidate else {
        try await recordFailure(subjects: subjects)
        throw AccessError.invalidCredentials
      }
      if hasher.needsRehash(candidate.passwordHash) {
        try await rehash(candidate.accountID, try await hashing.hash(password))
      }
      let (token, digest) = SessionToken.generate()
      return (token, try await insertSession(tokenDigest: digest, accountID: candidate.accountID))
    }
  }

  /// The session a bearer token stands for, its idle clock restarted; `notSignedIn` otherwise.
  public func authenticate(bearerToken: String?) async throws -> Session {
    guard let bearerToken, SessionToken.isWellFormed(bearerToken) else {
      throw AccessError.notSignedIn
    }
    let idle = Int(policy.idleTimeout.components.seconds)
    let rows = try await database.execute(
      """
      UPDATE sessions SET last_seen_at = now()
      WHERE token_digest = \(Data(SessionToken.digest(of: bearerToken)))
        AND last_seen_at > now() - make_interval(secs => \(idle))
        AND absolute_expires_at > now()
      RETURNING account_id, created_at,
        LEAST(now() + make_interval(secs => \(idle)), absolute_expires_at)
      """
    )
    for try await (accountID, createdAt, expiresAt) in rows.decode((UUID, Date, Date).self) {
      return Session(accountID: accountID, createdAt: createdAt, expiresAt: expiresAt)
    }
    throw AccessError.notSignedIn
  }

  /// Ends the session of `bearerToken` on the server.
  public func logout(bearerToken: String?) async throws {
    guard let bearerToken, SessionToken.isWellFormed(bearerToken) else {
      throw AccessError.notSignedIn
    }
    let idle = Int(policy.idleTimeout.components.seconds)
    // One statement: only a live session can be ended, and ending it needs no lookup first.
    let rows = try await database.execute(
      """
      DELETE FROM sessions
      WHERE token_digest = \(Data(SessionToken.digest(of: bearerToken)))
        AND last_seen_at > now() - make_interval(secs => \(idle)) AND absolute_expires_at > now()
      RETURNING 1
      """
    )
    for try await _ in rows { return }
    throw AccessError.notSignedIn
  }

  /// Ends every session of an account (a disabled account, a changed password).
  public func endAllSessions(accountID: UUID) async throws {
    try await database.execute("DELETE FROM sessions WHERE account_id = \(accountID)")
  }

  private func insertSession(tokenDigest: [UInt8], accountID: UUID) async throws -> Session {
    let absolute = Int(policy.absoluteLifetime.components.seconds)
    let idle = Int(policy.idleTimeout.components.seconds)
    let rows = try await database.execute(
      """
      INSERT INTO sessions (token_digest, account_id, absolute_expires_at)
      VALUES (\(Data(tokenDigest)), \(accountID), now() + make_interval(secs => \(absolute)))
      RETURNING created_at, LEAST(last_seen_at + make_interval(secs => \(idle)), absolute_expires_at)
      """
    )
    for try await (createdAt, expiresAt) in rows.decode((Date, Date).self) {
      return Session(accountID: accountID, createdAt: createdAt, expiresAt: expiresAt)
    }
    throw AccessStoreError.noRowReturned
  }

  private func failures(subjects: [String]) async throws -> [String: Int] {
    let rows = try await database.execute(
      """
      SELECT subject, failures FROM login_failures
      WHERE subject = ANY(\(subjects)) AND window_start = date_trunc('hour', now())
      """
    )
    var failures: [String: Int] = [:]
    for try await (subject, count) in rows.decode((String, Int).self) { failures[subject] = count }
    return failures
  }

  private func recordFailure(subjects: [String]) async throws {
    try await database.execute(
      """
      INSERT INTO login_failures (subject, window_start, failures)
      SELECT s, date_trunc('hour', now()), 1 FROM unnest(\(subjects)::text[]) AS s
      ON CONFLICT (subject, window_start) DO UPDATE SET failures = login_failures.failures + 1
      """
    )
  }

  private static func untilNextHour(now: Date = Date()) -> Duration {
    let seconds = now.timeIntervalSince1970
    let next = (seconds / 3600).rounded(.down) * 3600 + 3600
    return .seconds(Int(next - seconds) + 1)
  }
}

/// The database answered something the schema rules out.
enum AccessStoreError: Error {
  case noRowReturned
  case unknownPurpose(String)
}
