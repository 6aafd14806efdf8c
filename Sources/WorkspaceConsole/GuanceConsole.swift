public import AccountAccess
public import AccountKit
import Foundation
import Mailer
import SuiteErrors
import SuiteKit

/// The console's rules: who may register, how codes and sessions work, who sees which
/// workspace. Free of gRPC and SQL: handlers call it, a `ConsoleStore` keeps its data.
public struct GuanceConsole: Sendable {
  public let catalog: SiteCatalog
  let store: any ConsoleStore
  let hasher: PasswordHasher
  let sessions: PasswordSessions
  let challenges: EmailChallenges

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

  // MARK: Validation shared by the RPCs

  func newAccount(
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

  func workspaceDraft(
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
  func earlierCreation(
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
  func orEarlierCreation(
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

  static func workspaceID(_ raw: String) throws -> UUID {
    guard let id = UUID(canonical: raw) else {
      throw ServiceError.invalid(field: "workspace_id", "must be a workspace id")
    }
    return id
  }

}
