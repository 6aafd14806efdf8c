import AccountKit
public import Foundation
public import Logging
public import Mailer
public import PostgresNIO
public import SuitePersistence

/// Emailed 6-digit codes (OWASP ASVS 5 §6.5–6.6): issued under a per-subject lock that
/// enforces the resend interval and the hourly cap, stored as digests, and redeemed at most
/// once, within 10 minutes and 5 tries, in the same transaction as what the code unlocks.
public struct EmailChallenges: Sendable {
  /// The reply to a code request: the same shape whether or not an account matched.
  public struct Issued: Sendable, Equatable {
    public var challengeID: UUID
    public var expiresAt: Date
    public var resendAfter: Duration
  }

  private let database: Database
  private let logger: Logger

  public init(database: Database, logger: Logger) {
    self.database = database
    self.logger = logger
  }

  /// Issues a code proving control of `subject` for `purpose`.
  /// - Parameters:
  ///   - accountID: the account the code would unlock; nil when none matched, in which case
  ///     the challenge is stored all the same (same reply, same work) but can never succeed.
  ///   - mail: the message carrying the code; nil sends nothing.
  public func issue(
    subject: String,
    purpose: String,
    accountID: UUID?,
    mail: @escaping @Sendable (_ code: String) -> OutgoingMail?
  ) async throws -> Issued {
    let id = UUID()
    let code = VerificationCode.generate()
    let digest = VerificationCode.digest(
      code: accountID == nil ? VerificationCode.generate() + "-unreachable" : code,
      challengeID: id.uuidString
    )
    let resendSeconds = Int(VerificationCode.resendInterval.components.seconds)
    let lifetimeSeconds = Int(VerificationCode.lifetime.components.seconds)
    let logger = self.logger
    return try await database.transaction { connection in
      // Serialises requests for one subject, so two at once cannot both pass the throttle.
      try await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtext(\(subject + "/" + purpose)))",
        logger: logger
      )
      let recent = try await connection.execute(
        """
        SELECT count(*)::int,
          COALESCE(EXTRACT(EPOCH FROM max(created_at) + make_interval(secs => \(resendSeconds)) - now()), 0)::float8,
          COALESCE(EXTRACT(EPOCH FROM min(created_at) + interval '1 hour' - now()), 0)::float8
        FROM email_challenges
        WHERE subject = \(subject) AND purpose = \(purpose) AND created_at > now() - interval '1 hour'
        """,
        logger: logger
      )
      for try await (count, resendIn, hourResetIn) in recent.decode((Int, Double, Double).self) {
        if resendIn > 0 {
          throw AccessError.resendTooSoon(retryAfter: .seconds(Int(resendIn.rounded(.up))))
        }
        if count >= VerificationCode.maxSendsPerHour {
          throw AccessError.tooManyCodes(
            retryAfter: .seconds(Int(max(1, hourResetIn.rounded(.up))))
          )
        }
      }
      let inserted = try await connection.execute(
        """
        INSERT INTO email_challenges (id, subject, purpose, account_id, code_digest, expires_at)
        VALUES (\(id), \(subject), \(purpose), \(accountID), \(Data(digest)),
                now() + make_interval(secs => \(lifetimeSeconds)))
        RETURNING expires_at
        """,
        logger: logger
      )
      var expiresAt: Date?
      for try await date in inserted.decode(Date.self) { expiresAt = date }
      guard let expiresAt else { throw AccessStoreError.noRowReturned }
      if accountID != nil, let message = mail(code) {
        try await MailOutbox.enqueue(message, on: connection, logger: logger)
      }
      return Issued(
        challengeID: id,
        expiresAt: expiresAt,
        resendAfter: VerificationCode.resendInterval
      )
    }
  }

  /// Redeems `code` for the challenge and runs `unlock` with the challenge's account in the
  /// same transaction, which also consumes the challenge. A wrong code costs one of the five
  /// tries even though the call fails.
  public func redeem<Result: Sendable>(
    challengeID: UUID,
    code: String,
    subject: String,
    purpose: String,
    unlock: @escaping @Sendable (PostgresConnection, UUID) async throws -> Result
  ) async throws -> Result {
    let logger = self.logger
    let outcome: Swift.Result<Result, AccessError> = try await database.transaction { connection in
      let rows = try await connection.execute(
        """
        SELECT subject, purpose, account_id, code_digest, expires_at <= now(), attempts,
               consumed_at IS NOT NULL
        FROM email_challenges WHERE id = \(challengeID)
        FOR UPDATE
        """,
        logger: logger
      )
      var found: ChallengeState?
      for try await (storedSubject, storedPurpose, accountID, digest, expired, attempts, consumed)
        in rows.decode((String, String, UUID?, Data, Bool, Int, Bool).self)
      {
        found = ChallengeState(
          matchesRequest: storedSubject == subject && storedPurpose == purpose,
          accountID: accountID,
          digest: Array(digest),
          expired: expired,
          attempts: attempts,
          consumed: consumed
        )
      }
      guard let challenge = found else {
        return .failure(.challengeNotFound(challengeID.uuidString))
      }
      switch challenge.verdict(code: code, challengeID: challengeID) {
      case .reject(let error, let countsAsAttempt):
        if countsAsAttempt {
          try await connection.execute(
            "UPDATE email_challenges SET attempts = attempts + 1 WHERE id = \(challengeID)",
            logger: logger
          )
        }
        return .failure(error)
      case .accept(let accountID):
        try await connection.execute(
          "UPDATE email_challenges SET consumed_at = now() WHERE id = \(challengeID)",
          logger: logger
        )
        return .success(try await unlock(connection, accountID))
      }
    }
    // The failed attempt is committed before the caller hears of it.
    return try outcome.get()
  }
}

/// A stored challenge, and the rules a presented code is judged by.
struct ChallengeState {
  enum Verdict {
    case accept(UUID)
    case reject(AccessError, countsAsAttempt: Bool)
  }

  var matchesRequest: Bool
  var accountID: UUID?
  var digest: [UInt8]
  var expired: Bool
  var attempts: Int
  var consumed: Bool

  func verdict(code: String, challengeID: UUID) -> Verdict {
    // A code is bound to the subject and purpose it was sent for.
    guard matchesRequest else {
      return .reject(.challengeNotFound(challengeID.uuidString), countsAsAttempt: true)
    }
    if consumed { return .reject(.codeAlreadyUsed, countsAsAttempt: false) }
    if attempts >= VerificationCode.maxAttempts {
      return .reject(.codeLocked, countsAsAttempt: false)
    }
    if expired { return .reject(.codeExpired, countsAsAttempt: false) }
    guard let accountID,
      VerificationCode.matches(
        code: code,
        challengeID: challengeID.uuidString,
        storedDigest: digest
      )
    else {
      let left = VerificationCode.maxAttempts - attempts - 1
      return .reject(left > 0 ? .wrongCode(attemptsLeft: left) : .codeLocked, countsAsAttempt: true)
    }
    return .accept(accountID)
  }
}
