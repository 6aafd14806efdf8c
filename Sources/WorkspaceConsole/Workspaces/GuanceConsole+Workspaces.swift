public import AccountAccess
import AccountKit
import Foundation
import Mailer
import SuiteErrors

/// Workspaces: creation (with a new or an existing account), listing, look-ups by the suite, status.
extension GuanceConsole {

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
  func liveAccount(_ sessionToken: String) async throws -> UUID? {
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
}
