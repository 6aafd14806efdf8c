public import AccountAccess
public import AccountKit
public import Foundation
import Mailer
import SuiteErrors

/// Billing center accounts and the cloud accounts linked to them.
extension GuanceBilling {

  public struct Registration: Sendable {
    public var username: String
    public var password: String
    public var email: String
    public var phone: String
    public var company: CompanyInfo
    /// Optional: a retry with the same key (and email) returns the first registration's account.
    public var creationKey: String?

    public init(
      username: String,
      password: String,
      email: String,
      phone: String,
      company: CompanyInfo,
      creationKey: String? = nil
    ) {
      self.username = username
      self.password = password
      self.email = email
      self.phone = phone
      self.company = company
      self.creationKey = creationKey
    }
  }

  public func register(_ registration: Registration) async throws -> BillingAccount {
    var validation = Validation()
    let identity = AccountIdentity.check(
      username: registration.username,
      email: registration.email,
      phone: registration.phone,
      password: registration.password,
      into: &validation
    )
    let company = CompanyProfile.check(registration.company, into: &validation)
    let key = CreationKey.check(registration.creationKey, into: &validation)
    try validation.finish()
    guard let identity else { throw ServiceError.invalid(validation.violations) }
    // A retry of a registration that went through: its username is taken — by this account.
    if let earlier = try await earlierRegistration(key, email: identity.email) { return earlier }
    let hash = try await hasher.hash(registration.password)
    do {
      return try await store.insertAccount(
        NewBillingAccount(
          username: identity.username,
          email: identity.email,
          phone: identity.phone,
          passwordHash: hash,
          company: company,
          creationKey: key
        )
      )
    } catch {
      // A concurrent call with the same key got there first.
      if let earlier = try await earlierRegistration(key, email: identity.email) { return earlier }
      throw error
    }
  }

  /// The account an earlier registration with `key` made, if any; only for the same email, so
  /// that a key is no way to learn about someone else's account.
  func earlierRegistration(_ key: String?, email: String) async throws -> BillingAccount? {
    guard let key, let earlier = try await store.account(createdWith: key) else { return nil }
    guard earlier.email == email else {
      throw ServiceError.invalid(field: "creation_key", "was used for another account")
    }
    return earlier
  }

  /// Opens a billing center session (username, email or phone, and password).
  public func login(
    login raw: String,
    password: String,
    peer: String
  ) async throws -> (
    token: String, session: Session, account: BillingAccount
  ) {
    let store = self.store
    // A phone as people type it ("+1 415-555-0100") is looked up in its E.164 form.
    let login = (try? PhoneNumber(raw).value) ?? raw
    let (token, session) = try await sessions.login(
      login: login,
      password: password,
      peer: peer,
      find: { try await store.loginCandidate(forLogin: $0) },
      rehash: { try await store.replacePasswordHash(accountID: $0, with: $1) }
    )
    return (token, session, try await account(id: session.accountID))
  }

  public func logout(bearerToken: String?) async throws {
    try await sessions.logout(bearerToken: bearerToken)
  }

  public func account(id: UUID) async throws -> BillingAccount {
    guard let account = try await store.account(id: id) else {
      throw BillingError.billingAccountNotFound(id.uuidString.lowercased())
    }
    return account
  }

  public func cloudAccounts(of accountID: UUID) async throws -> [CloudAccount] {
    _ = try await account(id: accountID)
    return try await store.cloudAccounts(billingAccountID: accountID)
  }

  public func findByCloudIdentity(
    _ identity: CloudIdentity?
  ) async throws -> (CloudAccount, BillingAccount)? {
    try await store.cloudAccount(identity: Self.require(identity))
  }

  public func linkCloudAccount(
    _ identity: CloudIdentity?,
    to accountID: UUID,
    subscriptionID rawSubscription: String
  ) async throws -> CloudAccount {
    let identity = try Self.require(identity)
    let subscription = try Self.optionalSubscriptionID(rawSubscription)
    _ = try await account(id: accountID)
    return try await store.linkCloudAccount(identity, to: accountID, subscriptionID: subscription)
  }

  /// Mails a binding code to the email of the account named `username`. Unknown usernames
  /// get a reply of the same shape (a plausible masked address) and no mail.
  public func startBindingVerification(
    username raw: String
  ) async throws -> (
    issued: EmailChallenges.Issued, maskedEmail: String
  ) {
    var validation = Validation()
    let username = validation.check("username") { () throws(FieldProblem) in try Username(raw) }
    try validation.finish()
    guard let username else { throw ServiceError.invalid(validation.violations) }

    let account = try await store.account(username: username.value)
    let issued = try await challenges.issue(
      subject: "username:\(username.value)",
      purpose: PostgresBillingStore.bindingPurpose,
      accountID: account?.id
    ) { code in
      account.map { account in
        OutgoingMail(
          recipient: account.email,
          subject: "Bind your cloud account to Guance billing center",
          body: """
            Hello \(account.username),

            Your verification code for binding a Microsoft cloud account to your Guance billing
            center account is \(code). It expires in 10 minutes.
            If you did not ask for it, ignore this message: nothing is bound without the code.

            """
        )
      }
    }
    return (issued, Self.concealedEmail)
  }

  /// Redeems a binding code and links the cloud identity to the code's billing account, once.
  public func confirmBinding(
    challengeID raw: String,
    code: String,
    username rawUsername: String,
    identity: CloudIdentity?,
    subscriptionID rawSubscription: String
  ) async throws -> (BillingAccount, CloudAccount) {
    var validation = Validation()
    let challengeID = UUID(uuidString: raw)
    validation.require(
      challengeID != nil,
      "challenge_id",
      "must be the challenge_id StartBindingVerification returned"
    )
    validation.require(VerificationCode.isWellFormed(code), "code", "must be the 6-digit code")
    let username = validation.check("username") { () throws(FieldProblem) in
      try Username(rawUsername)
    }
    try validation.finish()
    guard let challengeID, let username else { throw ServiceError.invalid(validation.violations) }
    let identity = try Self.require(identity)
    let subscription = try Self.optionalSubscriptionID(rawSubscription)
    return try await store.linkCloudAccount(
      identity,
      subscriptionID: subscription,
      redeeming: BindingCodeRedemption(
        challengeID: challengeID,
        code: code,
        username: username.value
      )
    )
  }
}
