public import AccountAccess
public import AccountKit
public import Foundation
import Mailer
import SuiteErrors

/// The billing center's rules: its own accounts, cloud accounts, who pays for which
/// workspace, the usage ledger and daily bills. Free of gRPC and SQL.
public struct GuanceBilling: Sendable {
  /// Who is calling: a signed-in billing center user, or one of the suite's services.
  public enum Caller: Sendable {
    case session(Session)
    case suiteService
  }

  public let catalog: PriceCatalog
  let store: any BillingStore
  let directory: any WorkspaceDirectory
  let hasher: PasswordHasher
  let sessions: PasswordSessions
  let challenges: EmailChallenges
  /// How long after midnight (UTC) late usage may still arrive before a day can be closed.
  public let closingGrace: Duration
  /// What time it is by the usage calendar (`UsageClock`: the wall clock in production); tests
  /// set it, so that days, grace periods and the 30-day window for usage do not depend on when
  /// they run.
  let clock: @Sendable () -> Date

  public init(
    store: any BillingStore,
    directory: any WorkspaceDirectory,
    hasher: PasswordHasher,
    sessions: PasswordSessions,
    challenges: EmailChallenges,
    catalog: PriceCatalog,
    closingGrace: Duration,
    clock: @escaping @Sendable () -> Date = { Date() }
  ) {
    self.store = store
    self.directory = directory
    self.hasher = hasher
    self.sessions = sessions
    self.challenges = challenges
    self.catalog = catalog
    self.closingGrace = closingGrace
    self.clock = clock
  }

  // MARK: Callers

  /// The billing account an RPC acts for. A session acts for its own account only (another
  /// account's id is not found, so ids cannot be probed); a suite service names any account.
  public func billingAccountID(requested raw: String, caller: Caller) throws -> UUID {
    let requested = raw.isEmpty ? nil : UUID(uuidString: raw)
    if !raw.isEmpty && requested == nil {
      throw ServiceError.invalid(field: "billing_account_id", "must be a billing account id")
    }
    switch caller {
    case .session(let session):
      guard requested == nil || requested == session.accountID else {
        throw BillingError.billingAccountNotFound(raw)
      }
      return session.accountID
    case .suiteService:
      guard let requested else {
        throw ServiceError.invalid(field: "billing_account_id", "is required")
      }
      return requested
    }
  }

  public func authenticate(bearerToken: String?) async throws -> Session {
    try await sessions.authenticate(bearerToken: bearerToken)
  }

  // MARK: Field checks

  static func workspaceID(_ raw: String) throws -> UUID {
    guard let id = UUID(uuidString: raw) else {
      throw ServiceError.invalid(field: "workspace_id", "must be a workspace id")
    }
    return id
  }

  /// Linking a purchaser's cloud account is the activation's (the marketplace vouched for the
  /// purchaser there): a billing center user could otherwise claim anyone's subscription.
  static func refuseLinking(_ purchaser: CloudIdentity?, by caller: Caller) throws {
    guard purchaser != nil, case .session = caller else { return }
    throw ServiceError.invalid(field: "link_purchaser", "is for the suite's services only")
  }

  /// The console session a caller proves control of a workspace with: required of billing
  /// center users, optional for the suite's services.
  static func ownerSession(
    _ raw: String,
    linking purchaser: CloudIdentity?,
    caller: Caller
  ) throws -> String? {
    try refuseLinking(purchaser, by: caller)
    if case .session = caller, raw.isEmpty {
      throw ServiceError.invalid(
        field: "workspace_owner_session",
        "is required: a console session of the workspace's owner (WorkspaceConsoleService/Login)"
      )
    }
    guard !raw.isEmpty else { return nil }
    guard raw.isPrintableASCII(length: 1...512) else {
      throw ServiceError.invalid(
        field: "workspace_owner_session",
        "must be a console session token"
      )
    }
    return raw
  }

  static func require(_ identity: CloudIdentity?) throws -> CloudIdentity {
    guard let identity else {
      throw ServiceError.invalid(
        field: "identity",
        "needs provider AZURE and the purchaser's tenant_id and object_id"
      )
    }
    return identity
  }

  static func require(
    _ settlement: Settlement?,
    linking purchaser: CloudIdentity? = nil
  ) throws
    -> Settlement
  {
    guard let settlement else {
      throw ServiceError.invalid(
        field: "settlement",
        "needs a method; CLOUD_ACCOUNT also needs the marketplace_subscription_id"
      )
    }
    if purchaser != nil, settlement.subscriptionID == nil {
      throw ServiceError.invalid(field: "link_purchaser", "goes only with CLOUD_ACCOUNT settlement")
    }
    return settlement
  }

  /// Not in the future (5 minutes of clock skew allowed) and at most `maxUsageAge` old.
  static func isRecent(_ time: Date, now: Date) -> Bool {
    time <= now.addingTimeInterval(300) && time >= now.addingTimeInterval(-maxUsageAge)
  }

  /// A marketplace subscription id, or nil when left empty.
  static func optionalSubscriptionID(_ raw: String) throws -> String? {
    raw.isEmpty ? nil : try subscriptionID(raw)
  }

  static func subscriptionID(_ raw: String) throws -> String {
    guard raw.isPrintableASCII(length: 1...128) else {
      throw ServiceError.invalid(
        field: "marketplace_subscription_id",
        "must be a marketplace subscription id"
      )
    }
    return raw
  }

  /// Where a binding code went, as every reply shows it. Anything derived from the account's
  /// email (its first letter, its domain) tells an existing account from an unknown one, however
  /// plausible the decoy: so no reply says anything about the address.
  static let concealedEmail = "***@***"
}
