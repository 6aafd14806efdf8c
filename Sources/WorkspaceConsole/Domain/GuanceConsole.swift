public import AccountAccess
public import AccountKit
import Foundation
import Mailer
import SuiteErrors

/// The console's rules: who may register, how codes and sessions work, who sees which
/// workspace. Free of gRPC and SQL: handlers call it, a `ConsoleStore` keeps its data.
public struct GuanceConsole: Sendable {
  public let catalog: SiteCatalog
  private let store: any ConsoleStore
  private let hasher: PasswordHasher
  private let sessions: PasswordSessions
  private let challenges: EmailChallenges

  public init(
    store: any ConsoleStore,
    hasher: PasswordHasher,
    sessions: PasswordSessions,
    challenges: EmailChallenges,
    catalog: SiteCatalog
  ) {
    self.store = store
    self.hasher = hasher
    self.sessions = sessions
    self.challenges = challenges
    self.catalog = catalog
  }

  // MARK: Accounts

  /// What a new account's fields must satisfy, checked together so every problem is reported.
  public struct Registration: Sendable {
    public var username: String
    public var password: String
    public var email: String
    public var phone: String

    public init(username: String, password: String, email: String, phone: String) {
      self.username = username
      self.password = password
      self.email = email
      self.phone = phone
    }
  }

  public func registerAccount(_ registration: Registration) async throws -> Account {
    var validation = Validation()
    let account = try await newAccount(registration, validation: &validation)
    return try await store.insertAccount(account)
  }

  public func account(of session: Session) async throws -> Account {
    guard let account = try await store.account(id: session.accountID) else {
      throw AccessError.notSignedIn
    }
    return account
  }

  // MARK: Email codes

  public func sendEmailCode(
    email rawEmail: String,
    purpose: EmailCodePurpose?
  ) async throws
    -> EmailChallenges.Issued
  {
    var validation = Validation()
    let email = validation.check("email") { () throws(FieldProblem) in try EmailAddress(rawEmail) }
    validation.require(purpose != nil, "purpose", "must be specified")
    try validation.finish()
    guard let email, let purpose else { throw ServiceError.invalid(validation.violations) }

    // Unknown addresses get the same reply and the same work, but no mail.
    let account = try await store.account(email: email.value)
    return try await challenges.issue(
      subject: email.value,
      purpose: purpose.rawValue,
      accountID: account?.id
    ) { code in
      account.map { account in
        OutgoingMail(
          recipient: account.email,
          subject: "Your Guance verification code",
          body: """
            Hello \(account.username),

            Your Guance verification code is \(code).
            It expires in 10 minutes. If you did not ask for it, ignore this message.

            """
        )
      }
    }
  }

  // MARK: Workspaces

  /// The workspace fields both creation paths share.
  public struct WorkspaceRequest: Sendable {
    public var name: String
    public var language: String
    public var site: String
    public var termsAccepted: Bool
    /// Optional: a retry with the same key returns the first creation's workspace.
    public var creationKey: String?

    public init(
      name: String,
      language: String,
      site: String,
      termsAccepted: Bool,
      creationKey: String? = nil
    ) {
      self.name = name
      self.language = language
      self.site = site
      self.termsAccepted = termsAccepted
      self.creationKey = creationKey
    }
  }

  /// For an existing Guance account, proven by the code mailed to its email.
  public func createWorkspace(
    _ request: WorkspaceRequest,
    email rawEmail: String,
    challengeID rawChallenge: String,
    code: String
  ) async throws -> (Account, Workspace) {
    var validation = Validation()
    let draft = workspaceDraft(request, validation: &validation)
    let email = validation.check("email") { () throws(FieldProblem) in try EmailAddress(rawEmail) }
    let challengeID = validation.check("challenge_id") { () throws(FieldProblem) in
      guard let id = UUID(uuidString: rawChallenge) else {
        throw FieldProblem("must be the challenge_id returned by SendEmailCode")
      }
      return id
    }
    validation.require(VerificationCode.isWellFormed(code), "code", "must be the 6-digit code")
    try validation.finish()
    guard let draft, let email, let challengeID else {
      throw ServiceError.invalid(validation.violations)
    }
    // A retry of a creation that went through: its code is spent, its workspace exists.
    if let earlier = try await earlierCreation(draft, forOwner: email.value) { return earlier }

    return try await orEarlierCreation(draft, forOwner: email.value) {
      try await store.createWorkspace(
        draft,
        redeeming: CodeRedemption(
          challengeID: challengeID,
          code: code,
          email: email.value,
          purpose: .createWorkspace
        )
      )
    }
  }

  /// Registers a Guance account and creates its first workspace, all or nothing.
  public func registerAndCreateWorkspace(
    _ request: WorkspaceRequest,
    registration: Registration,
    passwordConfirmation: String
  ) async throws -> (Account, Workspace) {
    var validation = Validation()
    let draft = workspaceDraft(request, validation: &validation)
    // A retry of a registration that went through: its username is taken — by this account.
    if let draft, let earlier = try await earlierCreation(draft, forOwner: registration.email) {
      return earlier
    }
    validation.require(
      passwordConfirmation == registration.password,
      "password_confirmation",
      "must match the password"
    )
    let account = try await newAccount(registration, validation: &validation)
    guard let draft else { throw ServiceError.invalid(validation.violations) }
    return try await orEarlierCreation(draft, forOwner: registration.email) {
      try await store.insertAccountAndWorkspace(account, draft)
    }
  }

  public func workspaces(of session: Session) async throws -> [Workspace] {
    try await store.workspaces(memberAccountID: session.accountID)
  }

  /// One of the caller's workspaces; someone else's is reported as not found.
  public func workspace(id rawID: String, of session: Session) async throws -> Workspace {
    let id = try Self.workspaceID(rawID)
    guard let workspace = try await store.workspace(id: id, memberAccountID: session.accountID)
    else { throw ConsoleError.workspaceNotFound(rawID) }
    return workspace
  }

  /// Any workspace, for the suite's other services; with `ownerSessionToken`, only one that
  /// live session's account owns. A token that is no live session, or whose account does not
  /// own the workspace, gets the answer an unknown id gets: the caller proves control of the
  /// workspace or learns nothing.
  public func lookupWorkspace(
    id rawID: String,
    ownerSessionToken: String? = nil
  ) async throws -> Workspace {
    let id = try Self.workspaceID(rawID)
    // The session first, whatever the id: every refusal then costs the same reads.
    var sessionAccount: UUID?
    if let ownerSessionToken { sessionAccount = try await liveAccount(ownerSessionToken) }
    guard let workspace = try await store.workspace(id: id),
      ownerSessionToken == nil || sessionAccount == workspace.ownerAccountID
    else { throw ConsoleError.workspaceNotFound(rawID) }
    return workspace
  }

  /// The workspace a creation with `creationKey` made, for the suite's other services (the
  /// gateway finishing an activation whose creating call died). `alsoGiven`: the request's
  /// other lookup fields and whether each was set; none may be, as a key looks up on its own.
  public func lookupWorkspace(
    creationKey raw: String,
    alsoGiven others: [String: Bool] = [:]
  ) async throws
    -> Workspace
  {
    var validation = Validation()
    let key = CreationKey.check(raw, into: &validation)
    for (field, given) in others.sorted(by: { $0.key < $1.key }) {
      validation.require(!given, field, "must be empty when creation_key is given")
    }
    try validation.finish()
    guard let key, let created = try await store.workspace(createdWith: key) else {
      throw ConsoleError.workspaceNotFound(raw)
    }
    return created.1
  }

  /// The account of a live session; nil for a token that is none (unknown, expired, malformed).
  private func liveAccount(_ sessionToken: String) async throws -> UUID? {
    do {
      return try await sessions.authenticate(bearerToken: sessionToken).accountID
    } catch AccessError.notSignedIn {
      return nil
    }
  }

  /// Suspends, reactivates or closes a workspace. Closed is final; repeating a status is a no-op.
  public func setWorkspaceStatus(
    id rawID: String,
    to status: WorkspaceStatus?,
    reason rawReason: String,
    requestID: String
  ) async throws -> Workspace {
    var validation = Validation()
    let id = validation.check("workspace_id") { () throws(FieldProblem) in
      guard let id = UUID(uuidString: rawID) else { throw FieldProblem("must be a workspace id") }
      return id
    }
    validation.require(status != nil, "status", "must be specified")
    let reason = rawReason.trimmingCharacters(in: .whitespacesAndNewlines)
    validation.require((1...200).contains(reason.count), "reason", "must be 1 to 200 characters")
    try validation.finish()
    guard let id, let status else { throw ServiceError.invalid(validation.violations) }

    // Decided on the status the workspace holds once locked: two changes at once used to both
    // pass a check made before, recording a change from a status to itself, or reopening a
    // workspace closed in between.
    guard
      let updated = try await store.setWorkspaceStatus(
        id: id,
        to: status,
        reason: reason,
        requestID: requestID,
        change: { current throws(ConsoleError) in
          if current == status { return false }
          if current == .closed { throw .workspaceClosed(rawID) }
          return true
        }
      )
    else { throw ConsoleError.workspaceNotFound(rawID) }
    return updated
  }

  // MARK: Sessions

  /// Opens a session for a username or email and its password.
  public func login(
    login: String,
    password: String,
    peer: String
  ) async throws -> (
    token: String, session: Session, account: Account, workspaces: [Workspace]
  ) {
    let store = self.store
    let (token, session) = try await sessions.login(
      login: login,
      password: password,
      peer: peer,
      find: { try await store.loginCandidate(forLogin: $0) },
      rehash: { try await store.replacePasswordHash(accountID: $0, with: $1) }
    )
    let account = try await self.account(of: session)
    return (token, session, account, try await store.workspaces(memberAccountID: account.id))
  }

  /// The session a bearer token stands for; `notSignedIn` otherwise.
  public func authenticate(bearerToken: String?) async throws -> Session {
    try await sessions.authenticate(bearerToken: bearerToken)
  }

  public func logout(bearerToken: String?) async throws {
    try await sessions.logout(bearerToken: bearerToken)
  }

  // MARK: Validation shared by the RPCs

  private func newAccount(
    _ registration: Registration,
    validation: inout Validation
  ) async throws
    -> NewAccount
  {
    let identity = AccountIdentity.check(
      username: registration.username,
      email: registration.email,
      phone: registration.phone,
      password: registration.password,
      into: &validation
    )
    try validation.finish()
    guard let identity else { throw ServiceError.invalid(validation.violations) }
    // Hashing is the expensive part: only for requests that are otherwise valid.
    let hash = try await hasher.hash(registration.password)
    return NewAccount(
      username: identity.username,
      email: identity.email,
      phone: identity.phone,
      passwordHash: hash
    )
  }

  private func workspaceDraft(
    _ request: WorkspaceRequest,
    validation: inout Validation
  )
    -> WorkspaceDraft?
  {
    let name = validation.check("workspace_name") { () throws(FieldProblem) in
      try WorkspaceName(request.name).value
    }
    validation.require(
      catalog.language(request.language) != nil,
      "language",
      "must be one of: \(catalog.languages.map(\.code).joined(separator: ", "))"
    )
    validation.require(
      catalog.site(request.site) != nil,
      "site",
      "must be one of: \(catalog.sites.map(\.code).joined(separator: ", "))"
    )
    validation.require(request.termsAccepted, "terms_accepted", "the terms must be accepted")
    let key = CreationKey.check(request.creationKey, into: &validation)
    guard let name else { return nil }
    return WorkspaceDraft(
      name: name,
      language: request.language,
      site: request.site,
      creationKey: key
    )
  }

  /// The owner and workspace an earlier call with the draft's creation key made, if any. Only
  /// for the same owner: a key is no way to learn about someone else's workspace.
  private func earlierCreation(
    _ draft: WorkspaceDraft,
    forOwner email: String
  ) async throws
    -> (Account, Workspace)?
  {
    guard let key = draft.creationKey, let earlier = try await store.workspace(createdWith: key)
    else { return nil }
    guard earlier.0.email == (try? EmailAddress(email))?.value else {
      throw ServiceError.invalid(field: "creation_key", "was used for another owner's workspace")
    }
    return earlier
  }

  /// Runs a creation; when it fails because a concurrent call with the same creation key got
  /// there first (its account, code or key taken), that call's workspace is the answer.
  private func orEarlierCreation(
    _ draft: WorkspaceDraft,
    forOwner email: String,
    _ create: () async throws -> (Account, Workspace)
  ) async throws -> (Account, Workspace) {
    do {
      return try await create()
    } catch {
      if let earlier = try await earlierCreation(draft, forOwner: email) { return earlier }
      throw error
    }
  }

  private static func workspaceID(_ raw: String) throws -> UUID {
    guard let id = UUID(uuidString: raw) else {
      throw ServiceError.invalid(field: "workspace_id", "must be a workspace id")
    }
    return id
  }

}
