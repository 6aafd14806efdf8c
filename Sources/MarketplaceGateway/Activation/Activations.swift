public import AccountKit
public import Foundation
public import MarketplaceClient
import SuiteErrors
import SuiteKit
import SuitePersistence

/// The activation flow, step by step: a landing token becomes an activation session; the
/// session finds or gets a billing center account, then a workspace; binding the workspace
/// starts the activation saga. Each step is allowed only in the states where the flow allows
/// it. Free of gRPC and SQL.
public struct Activations: Sendable {
  private let store: any ActivationStore
  private let marketplace: MarketplaceClient
  private let billing: any BillingDirectory
  private let console: any ConsoleDirectory
  let saga: ActivationSaga
  private let sessionLifetime: Duration
  private let consoleLoginURL: String
  /// Calls that register a new account (`RegisterAndActivate`, `CreateWorkspace` with a new
  /// Guance account) under way at once. Each hashes a password in the billing center and
  /// another in the console, whose hash pools bound the whole path; a call beyond the limit is
  /// refused at once (`ActivationError.overloaded`, RESOURCE_EXHAUSTED with a retry delay)
  /// rather than queued: in a flood every queued buyer waited seconds, while a refused one
  /// tries again a moment later.
  private let registrations: AdmissionLimit
  /// The registrations' limit unless configured (`ACTIVATION_REGISTRATIONS_AT_ONCE`).
  public static let defaultRegistrationsAtOnce = 8

  public init(
    store: any ActivationStore,
    marketplace: MarketplaceClient,
    billing: any BillingDirectory,
    console: any ConsoleDirectory,
    saga: ActivationSaga,
    consoleLoginURL: String,
    sessionLifetime: Duration = .seconds(2 * 3600),
    registrationsAtOnce: Int = defaultRegistrationsAtOnce
  ) {
    registrations = AdmissionLimit(limit: registrationsAtOnce)
    self.store = store
    self.marketplace = marketplace
    self.billing = billing
    self.console = console
    self.saga = saga
    self.consoleLoginURL = consoleLoginURL
    self.sessionLifetime = sessionLifetime
  }

  /// Resolves the landing token with the marketplace, records the subscription and opens a
  /// session bound to it. Resolving an active subscription again shows it as activated and
  /// never leads to a second activation.
  public func resolve(
    marketplaceToken raw: String,
    correlationID: String = UUID().uuidString
  ) async throws
    -> Activation
  {
    // Browsers and some mailers turn '+' into ' ' in the query: undo it, as Microsoft's
    // accelerator does.
    let token = raw.replacingOccurrences(of: " ", with: "+").trimmingCharacters(
      in: .whitespacesAndNewlines
    )
    // A token is printable ASCII: anything else (a NUL, a line break) is a bad link, refused
    // here rather than taken for an outage when the HTTP client refuses the header.
    guard token.isPrintableASCII(length: 1...4096) else {
      throw ActivationError.invalidMarketplaceToken
    }
    let resolved: ResolvedSubscription
    do {
      resolved = try await marketplace.resolve(token: token, correlationID: correlationID)
    } catch MarketplaceError.badRequest, MarketplaceError.notFound {
      throw ActivationError.invalidMarketplaceToken
    } catch is MarketplaceError {
      // 403 (wrong app id), 5xx and timeouts alike: the buyer can only retry later.
      throw ActivationError.marketplaceUnavailable
    }
    let subscription = resolved.subscription
    let link: LinkedBillingAccount?
    if let known = try await store.knownLink(of: subscription.purchaser) {
      link = known
    } else {
      link = try await linkedAccount(of: subscription)
    }
    let (sessionID, digest) = SessionToken.generate()
    let recorded = try await store.recordResolution(
      subscription,
      link: link,
      sessionDigest: digest,
      sessionLifetime: sessionLifetime,
      correlationID: correlationID
    )
    return describe(
      sessionID: sessionID,
      subscription: subscription,
      link: link,
      branch: link == nil ? .notLinked : .alreadyLinked,
      saga: recorded.saga,
      expiresAt: recorded.expiresAt
    )
  }

  /// The activation a session id names; `sessionNotFound` for unknown or expired ids.
  public func activation(sessionID: String) async throws -> Activation {
    try await current(sessionID).activation
  }

  /// Bind branch, step 1: sends the code to the billing center account named `username`.
  public func startBillingAccountBinding(
    sessionID: String,
    username raw: String,
    correlationID: String = UUID().uuidString
  ) async throws -> (activation: Activation, challenge: BindingChallenge) {
    var (activation, stored, digest) = try await current(sessionID)
    guard activation.state == .needsBillingAccount else {
      throw ActivationError.notAllowed(step: "StartBillingAccountBinding", state: activation.state)
    }
    let username = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    guard (1...64).contains(username.count) else {
      throw ServiceError.invalid(field: "billing_username", "is required")
    }
    let challenge = try await billing.startBinding(username: username)
    try await store.recordBindingChallenge(
      digest: digest,
      subscriptionID: stored.subscription.id,
      username: username,
      challengeID: challenge.challengeID,
      correlationID: correlationID
    )
    activation.bindingPending = true
    return (activation, challenge)
  }

  /// Bind branch, step 2: the mailed code links the purchaser to the billing account.
  public func confirmBillingAccountBinding(
    sessionID: String,
    code: String,
    correlationID: String = UUID().uuidString
  ) async throws -> Activation {
    let (activation, stored, _) = try await current(sessionID)
    // Sent again after its answer was lost: the account it bound is linked, and the activation
    // is shown as it now stands (the code is spent; the session is what proves the caller).
    if activation.state != .needsBillingAccount, activation.branch == .notLinked,
      let linked = activation.billingAccount, linked.username == stored.bindingUsername
    {
      return activation
    }
    guard activation.state == .needsBillingAccount, let username = stored.bindingUsername,
      let challengeID = stored.bindingChallengeID
    else {
      throw ActivationError.notAllowed(
        step: "ConfirmBillingAccountBinding",
        state: activation.state
      )
    }
    let purchaser = stored.subscription.purchaser
    let account = try await billing.confirmBinding(
      challengeID: challengeID,
      code: code.trimmingCharacters(in: .whitespaces),
      username: username,
      tenantID: purchaser.tenantID,
      objectID: purchaser.objectID,
      subscriptionID: stored.subscription.id
    )
    try await store.recordLink(
      of: purchaser,
      to: account,
      subscriptionID: stored.subscription.id,
      event: "billing_account_bound",
      correlationID: correlationID
    )
    return describe(
      sessionID: sessionID,
      subscription: stored.subscription,
      link: account,
      branch: activation.branch,
      saga: stored.saga,
      expiresAt: activation.expiresAt
    )
  }

  /// Workspace step: what the linked billing account already pays for.
  public func bindableWorkspaces(sessionID: String) async throws -> [BindableWorkspace] {
    let (activation, _, _) = try await current(sessionID)
    guard activation.state == .needsWorkspace, let account = activation.billingAccount else {
      throw ActivationError.notAllowed(step: "ListBindableWorkspaces", state: activation.state)
    }
    return try await billing.workspaces(of: account.id)
  }

  /// Register branch, in one step. Every field is checked first, so a refused request creates
  /// nothing. The billing center account comes next: once it exists and is linked, a failure
  /// creating the workspace (the console's username taken, say) leaves the activation at the
  /// workspace step with the console's reason, never with half an account. Sent again with the
  /// same details (after any error or a lost answer), it carries on from where the first call
  /// got: the billing center and the console answer with what that call created.
  public func registerAndActivate(
    sessionID: String,
    account: NewAccount,
    company: CompanyInformation,
    workspace: NewWorkspace,
    termsAccepted: Bool,
    correlationID: String = UUID().uuidString
  ) async throws -> Activation {
    try await registering {
      try await register(
        sessionID: sessionID,
        account: account,
        company: company,
        workspace: workspace,
        termsAccepted: termsAccepted,
        correlationID: correlationID
      )
    }
  }

  private func register(
    sessionID: String,
    account: NewAccount,
    company: CompanyInformation,
    workspace: NewWorkspace,
    termsAccepted: Bool,
    correlationID: String
  ) async throws -> Activation {
    let (activation, stored, _) = try await current(sessionID)
    guard
      activation.state == .needsBillingAccount || Self.registeredHere(activation, stored, account)
    else {
      throw ActivationError.notAllowed(step: "RegisterAndActivate", state: activation.state)
    }
    try await checkBeforeCreating(
      workspace,
      owner: .new(account),
      ownerFields: "basic.",
      company: company,
      termsAccepted: termsAccepted
    )
    let subscription = stored.subscription
    // A key of the subscription's own: a retry finds the account this subscription registered
    // instead of being told its username is taken.
    let billingAccount = try await billing.register(
      account,
      company: company,
      creationKey: ActivationSaga.idempotencyKey(
        subscriptionID: subscription.id,
        step: "billing-account"
      )
    )
    if let linked = activation.billingAccount {
      guard linked.id == billingAccount.id else {
        throw ActivationError.notAllowed(step: "RegisterAndActivate", state: activation.state)
      }
    } else {
      try await billing.link(
        billingAccountID: billingAccount.id,
        tenantID: subscription.purchaser.tenantID,
        objectID: subscription.purchaser.objectID,
        subscriptionID: subscription.id
      )
      try await store.recordLink(
        of: subscription.purchaser,
        to: billingAccount,
        subscriptionID: subscription.id,
        event: "billing_account_registered",
        correlationID: correlationID
      )
    }
    return try await createAndActivate(
      workspace,
      owner: .new(account),
      ownerFields: "basic.",
      termsAccepted: termsAccepted,
      activation: activation,
      stored: stored,
      link: billingAccount,
      correlationID: correlationID
    )
  }

  /// Whether a RegisterAndActivate finding the activation past its first step is this
  /// registration sent again: the session started unlinked, the account linked since is the
  /// one the request names, and no existing workspace was bound meanwhile. Anything else
  /// (an account bound by code, say) is another path the buyer took, and the call is refused.
  private static func registeredHere(
    _ activation: Activation,
    _ stored: StoredSession,
    _ account: NewAccount
  )
    -> Bool
  {
    guard activation.branch == .notLinked, let linked = activation.billingAccount,
      activation.state == .needsWorkspace || activation.state.isPastTheWorkspaceStep,
      stored.saga.map({ $0.origin == .created }) ?? true
    else { return false }
    return linked.username == (try? Username(account.username))?.description
  }

  /// Workspace step, existing Guance account: a code to its email for `createWorkspace`.
  public func sendWorkspaceEmailCode(
    sessionID: String,
    email: String,
    correlationID: String = UUID().uuidString
  ) async throws -> WorkspaceEmailCode {
    let (activation, stored, digest) = try await current(sessionID)
    guard activation.state == .needsWorkspace else {
      throw ActivationError.notAllowed(step: "SendWorkspaceEmailCode", state: activation.state)
    }
    let sent = try await console.sendWorkspaceEmailCode(email: email)
    try await store.recordWorkspaceChallenge(
      digest: digest,
      subscriptionID: stored.subscription.id,
      challengeID: sent.challengeID,
      correlationID: correlationID
    )
    return sent
  }

  /// Workspace step, no workspace yet: creates one on the chosen site, binds it, activates.
  /// Sent again (after any error or a lost answer), it carries on: the console answers with
  /// the workspace the first call created, and the saga already started is shown or resumed.
  public func createWorkspace(
    sessionID: String,
    workspace: NewWorkspace,
    owner: WorkspaceOwner?,
    termsAccepted: Bool,
    correlationID: String = UUID().uuidString
  ) async throws -> Activation {
    let create = {
      try await self.create(
        sessionID: sessionID,
        workspace: workspace,
        owner: owner,
        termsAccepted: termsAccepted,
        correlationID: correlationID
      )
    }
    // A new Guance account's password is hashed, as a registration's is.
    guard case .new = owner else { return try await create() }
    return try await registering(create)
  }

  /// `body`, holding one of the registrations' places; `overloaded` when none is free.
  private func registering<Result>(_ body: () async throws -> Result) async throws -> Result {
    guard registrations.admit() else { throw ActivationError.overloaded }
    defer { registrations.release() }
    return try await body()
  }

  private func create(
    sessionID: String,
    workspace: NewWorkspace,
    owner: WorkspaceOwner?,
    termsAccepted: Bool,
    correlationID: String
  ) async throws -> Activation {
    let (activation, stored, _) = try await current(sessionID)
    let repeated = stored.saga?.origin == .created && activation.state.isPastTheWorkspaceStep
    guard activation.state == .needsWorkspace || repeated, let account = activation.billingAccount
    else {
      throw ActivationError.notAllowed(step: "CreateWorkspace", state: activation.state)
    }
    guard let owner else {
      throw ServiceError.invalid(field: "owner", "choose existing_account or new_account")
    }
    let ownerFields =
      switch owner {
      case .new: "new_account."
      case .existing: "existing_account."
      }
    try await checkBeforeCreating(
      workspace,
      owner: owner,
      ownerFields: ownerFields,
      termsAccepted: termsAccepted
    )
    // A code proves the email only to the session that asked for it: another session's
    // challenge is answered as one never sent.
    if case .existing(_, let challengeID, _) = owner, challengeID != stored.workspaceChallengeID {
      throw ActivationError.workspaceCodeNotSent(challengeID: challengeID)
    }
    return try await createAndActivate(
      workspace,
      owner: owner,
      ownerFields: ownerFields,
      termsAccepted: termsAccepted,
      activation: activation,
      stored: stored,
      link: account,
      correlationID: correlationID
    )
  }

  /// The workspace step of both creating paths: the subscription's workspace created once
  /// (or found, when an earlier call created it), then its saga begun or joined.
  private func createAndActivate(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    ownerFields: String,
    termsAccepted: Bool,
    activation: Activation,
    stored: StoredSession,
    link: LinkedBillingAccount,
    correlationID: String
  ) async throws -> Activation {
    let subscription = stored.subscription
    let created = try await createOnce(subscription.id) { key in
      try await console.createWorkspace(
        workspace,
        owner: owner,
        ownerFields: ownerFields,
        termsAccepted: termsAccepted,
        creationKey: key
      )
    }
    if stored.saga == nil {
      try await store.audit(
        subscriptionID: subscription.id,
        "workspace_created",
        detail: created.id.uuidString.lowercased(),
        correlationID: correlationID
      )
    }
    return try await startSaga(
      activation,
      subscription: subscription,
      link: link,
      workspaceID: created.id,
      origin: .created,
      correlationID: correlationID
    )
  }

  /// Workspace step, has workspaces: binds one the billing account already pays for. Sent
  /// again for the same workspace (a double click, a second tab) it shows the activation
  /// under way instead of starting anything twice.
  public func bindWorkspace(
    sessionID: String,
    workspaceID raw: String,
    correlationID: String = UUID().uuidString
  )
    async throws -> Activation
  {
    let (activation, stored, _) = try await current(sessionID)
    guard let workspaceID = UUID(uuidString: raw.trimmingCharacters(in: .whitespaces)) else {
      throw ServiceError.invalid(
        field: "workspace_id",
        "must be a workspace id from ListBindableWorkspaces"
      )
    }
    if let saga = stored.saga, saga.workspaceID == workspaceID, saga.origin == .existing {
      return try await resumeIfIdle(
        activation,
        saga: saga,
        subscription: stored.subscription,
        correlationID: correlationID
      )
    }
    guard activation.state == .needsWorkspace, let account = activation.billingAccount else {
      throw ActivationError.notAllowed(step: "BindWorkspace", state: activation.state)
    }
    return try await startSaga(
      activation,
      subscription: stored.subscription,
      link: account,
      workspaceID: workspaceID,
      origin: .existing,
      correlationID: correlationID
    )
  }

  /// Creates the subscription's workspace unless another call is creating one right now (a
  /// second tab): that one is refused rather than leaving a second workspace behind. A call
  /// whose process died lets go at once (its claim names this process's presence), so the
  /// buyer's next call carries on. The console gets a creation key of the subscription's own,
  /// so a call after a crash between the console's creation and the saga's first row finds
  /// that workspace instead of making a second one (or failing on a username the first call took).
  private func createOnce(
    _ subscriptionID: String,
    _ create: (_ creationKey: String) async throws -> BoundWorkspace
  )
    async throws -> BoundWorkspace
  {
    let runner = try saga.presence.id()
    guard
      try await store.claimWorkspaceCreation(
        subscriptionID,
        runner: runner,
        lease: saga.settings.lease
      )
    else {
      throw ActivationError.workspaceBeingCreated
    }
    do {
      let created = try await create(
        ActivationSaga.idempotencyKey(subscriptionID: subscriptionID, step: "workspace")
      )
      try await store.releaseWorkspaceCreation(subscriptionID, runner: runner)
      return created
    } catch {
      try? await store.releaseWorkspaceCreation(subscriptionID, runner: runner)
      throw error
    }
  }

  /// Finishes workspace creations whose call died before their saga began (the gateway killed
  /// mid-creation, the buyer gone): the console is asked for the workspace made with the
  /// subscription's creation key; found, its saga begins and runs as the buyer's call would
  /// have made it; not found, nothing was created and the claim is dropped (the buyer's next
  /// call creates it). Returns the subscriptions finished and those that failed for now (let go,
  /// for a later pass).
  public func finishAbandonedCreations(
    limit: Int = 32
  ) async throws
    -> (finished: [String], failed: [(subscriptionID: String, error: any Error)])
  {
    let runner = try saga.presence.id()
    let abandoned = try await store.claimAbandonedCreations(
      runner: runner,
      lease: saga.settings.lease,
      settle: .seconds(5),
      limit: limit
    )
    var finished: [String] = []
    var failed: [(subscriptionID: String, error: any Error)] = []
    for creation in abandoned {
      let subscription = creation.subscription
      let correlationID = "reconciler/\(subscription.id)"
      do {
        let key = ActivationSaga.idempotencyKey(subscriptionID: subscription.id, step: "workspace")
        guard let workspace = try await console.workspace(createdWith: key) else {
          try await store.releaseWorkspaceCreation(subscription.id, runner: runner)
          continue
        }
        try await store.audit(
          subscriptionID: subscription.id,
          "workspace_created",
          detail: workspace.id.uuidString.lowercased(),
          correlationID: correlationID
        )
        let (record, claimed) = try await store.beginSaga(
          subscriptionID: subscription.id,
          billingAccountID: creation.billingAccountID,
          workspaceID: workspace.id,
          origin: .created,
          runner: runner,
          lease: saga.settings.lease,
          correlationID: correlationID
        )
        try await store.releaseWorkspaceCreation(subscription.id, runner: runner)
        if claimed {
          try await saga.run(record, subscription: subscription, correlationID: correlationID)
        }
        finished.append(subscription.id)
      } catch {
        try? await store.letGoOfWorkspaceCreation(subscription.id, runner: runner)
        failed.append((subscription.id, error))
      }
    }
    return (finished, failed)
  }

  /// Begins (or joins) the subscription's saga and, when this call holds it, runs it now.
  private func startSaga(
    _ activation: Activation,
    subscription: MarketplaceSubscription,
    link: LinkedBillingAccount,
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    correlationID: String
  ) async throws -> Activation {
    let (record, claimed) = try await store.beginSaga(
      subscriptionID: subscription.id,
      billingAccountID: link.id,
      workspaceID: workspaceID,
      origin: origin,
      runner: try saga.presence.id(),
      lease: saga.settings.lease,
      correlationID: correlationID
    )
    guard record.workspaceID == workspaceID else { throw ActivationError.otherWorkspaceBeingBound }
    guard claimed else { return try await self.activation(sessionID: activation.sessionID) }
    let outcome = try await saga.run(
      record,
      subscription: subscription,
      correlationID: correlationID
    )
    return describe(
      sessionID: activation.sessionID,
      subscription: subscription,
      link: link,
      branch: activation.branch,
      saga: outcome,
      expiresAt: activation.expiresAt
    )
  }

  /// A repeated bind of the saga's own workspace: if nobody is running the saga (a retry is
  /// waiting), run it now; otherwise just show it.
  private func resumeIfIdle(
    _ activation: Activation,
    saga record: SagaRecord,
    subscription: MarketplaceSubscription,
    correlationID: String
  ) async throws -> Activation {
    guard activation.state == .activating, let link = activation.billingAccount else {
      return activation
    }
    return try await startSaga(
      activation,
      subscription: subscription,
      link: link,
      workspaceID: record.workspaceID,
      origin: record.origin,
      correlationID: correlationID
    )
  }

  /// Every field of a request that creates something, checked before anything is created (a
  /// refused request leaves no half-made account or link), all problems at once and under the
  /// request's own field paths: the account and company rules the billing center and the
  /// console apply (shared, in AccountKit), the console's own sites and languages, the terms.
  /// The services check again; what only they can know (a username taken) comes from them.
  private func checkBeforeCreating(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    ownerFields: String,
    company: CompanyInformation? = nil,
    termsAccepted: Bool
  ) async throws {
    var validation = Validation()
    validation.fieldPath = ownerFields
    switch owner {
    case .new(let account):
      _ = AccountIdentity.check(
        username: account.username,
        email: account.email,
        phone: account.phone,
        password: account.password,
        into: &validation
      )
      validation.require(
        account.password == account.passwordConfirmation,
        "password_confirmation",
        "must repeat the password"
      )
    case .existing(let email, let challengeID, let code):
      _ = validation.check("email") { () throws(FieldProblem) in try EmailAddress(email) }
      validation.require(
        challengeID.isPrintableASCII(length: 1...64),
        "challenge_id",
        "must be the challenge_id SendWorkspaceEmailCode returned"
      )
      validation.require(VerificationCode.isWellFormed(code), "code", "must be the 6-digit code")
    }
    validation.fieldPath = ""
    if let company { _ = CompanyProfile.check(company, into: &validation) }
    validation.fieldPath = "workspace."
    _ = validation.check("name") { () throws(FieldProblem) in try WorkspaceName(workspace.name) }
    let catalogue = try await console.siteCatalogue()
    validation.require(
      catalogue.languages.contains(workspace.language),
      "language",
      "must be one of: \(catalogue.languages.joined(separator: ", "))"
    )
    validation.require(
      catalogue.sites.contains(workspace.site),
      "site",
      workspace.site.isEmpty
        ? "is required: choose the site before creating"
        : "must be one of: \(catalogue.sites.joined(separator: ", "))"
    )
    validation.fieldPath = ""
    validation.require(termsAccepted, "terms_accepted", "the terms must be accepted")
    try validation.finish()
  }

  /// The session's activation as it stands, with what is stored about it.
  private func current(
    _ sessionID: String
  ) async throws -> (
    activation: Activation, stored: StoredSession, digest: [UInt8]
  ) {
    let digest = SessionToken.digest(of: sessionID)
    guard SessionToken.isWellFormed(sessionID), let stored = try await store.session(digest: digest)
    else {
      throw ActivationError.sessionNotFound
    }
    let link = try await linkedAccount(of: stored.subscription, known: stored.link)
    var activation = describe(
      sessionID: sessionID,
      subscription: stored.subscription,
      link: link,
      branch: stored.startedLinked ? .alreadyLinked : .notLinked,
      saga: stored.saga,
      expiresAt: stored.expiresAt
    )
    activation.bindingPending = stored.bindingChallengeID != nil
    return (activation, stored, digest)
  }

  /// An activation as the pages see it, from what is known of its subscription and saga.
  private func describe(
    sessionID: String,
    subscription: MarketplaceSubscription,
    link: LinkedBillingAccount?,
    branch: Activation.Branch,
    saga: SagaRecord?,
    expiresAt: Date
  ) -> Activation {
    var subscription = subscription
    // The saga marks the subscription Subscribed in the same statement that finishes it.
    if saga?.step == .activated, case .pendingFulfillmentStart = subscription.status {
      subscription.status = .subscribed
    }
    let state = Activation.state(of: subscription, linked: link != nil, saga: saga?.step)
    var activation = Activation(
      sessionID: sessionID,
      state: state,
      branch: branch,
      subscription: subscription,
      billingAccount: link,
      expiresAt: expiresAt
    )
    activation.workspace = saga?.workspace
    if state == .activating || state == .needsAttention { activation.problem = saga?.problem }
    if state == .activated { activation.consoleLoginURL = consoleLoginURL }
    return activation
  }

  /// The billing account the purchaser is linked to: known to the gateway once learnt (links
  /// never move), otherwise asked of the billing center and remembered when there is one.
  private func linkedAccount(
    of subscription: MarketplaceSubscription,
    known: LinkedBillingAccount?
  ) async throws
    -> LinkedBillingAccount?
  {
    if let known { return known }
    guard let found = try await linkedAccount(of: subscription) else { return nil }
    try await store.rememberLink(
      tenantID: subscription.purchaser.tenantID,
      objectID: subscription.purchaser.objectID,
      to: found
    )
    return found
  }

  private func linkedAccount(
    of subscription: MarketplaceSubscription
  ) async throws -> LinkedBillingAccount? {
    do {
      return try await billing.linkedAccount(
        tenantID: subscription.purchaser.tenantID,
        objectID: subscription.purchaser.objectID
      )
    } catch {
      throw ActivationError.billingCenterUnavailable
    }
  }
}
