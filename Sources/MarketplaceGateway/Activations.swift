import AccountKit
import SuiteErrors
public import Foundation
public import MarketplaceClient

/// The first steps of the activation flow: a landing token becomes an activation session,
/// and a session describes where the activation stands. Free of gRPC and SQL.
public struct Activations: Sendable {
  private let store: GatewayStore
  private let marketplace: MarketplaceClient
  private let billing: any BillingDirectory
  private let sessionLifetime: Duration

  public init(
    store: GatewayStore, marketplace: MarketplaceClient, billing: any BillingDirectory,
    sessionLifetime: Duration = .seconds(2 * 3600)
  ) {
    self.store = store
    self.marketplace = marketplace
    self.billing = billing
    self.sessionLifetime = sessionLifetime
  }

  /// Resolves the landing token with the marketplace, records the subscription and opens a
  /// session bound to it. Resolving an active subscription again shows it as activated and
  /// never leads to a second activation.
  public func resolve(marketplaceToken raw: String, correlationID: String = UUID().uuidString) async throws
    -> Activation
  {
    // Browsers and some mailers turn '+' into ' ' in the query: undo it, as Microsoft's
    // accelerator does.
    let token = raw.replacingOccurrences(of: " ", with: "+").trimmingCharacters(in: .whitespacesAndNewlines)
    guard (1...4096).contains(token.utf8.count) else { throw ActivationError.invalidMarketplaceToken }
    let resolved: ResolvedSubscription
    do {
      resolved = try await marketplace.resolve(token: token, correlationID: correlationID)
    } catch MarketplaceError.badRequest, MarketplaceError.notFound {
      throw ActivationError.invalidMarketplaceToken
    } catch is MarketplaceError {
      // 403 (wrong app id), 5xx and timeouts alike: the buyer can only retry later.
      throw ActivationError.marketplaceUnavailable
    }
    let linked = try await linkedAccount(of: resolved.subscription)
    let (sessionID, digest) = SessionToken.generate()
    let expiresAt = try await store.recordResolution(
      resolved.subscription, sessionDigest: digest, sessionLifetime: sessionLifetime, correlationID: correlationID)
    return Activation(
      sessionID: sessionID, state: Activation.state(of: resolved.subscription, linked: linked != nil),
      branch: linked == nil ? .notLinked : .alreadyLinked, subscription: resolved.subscription,
      billingAccount: linked, expiresAt: expiresAt)
  }

  /// The activation a session id names; `sessionNotFound` for unknown or expired ids.
  public func activation(sessionID: String) async throws -> Activation {
    try await current(sessionID).activation
  }

  /// Bind branch, step 1: sends the code to the billing center account named `username`.
  public func startBillingAccountBinding(
    sessionID: String, username raw: String, correlationID: String = UUID().uuidString
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
      digest: digest, subscriptionID: stored.subscription.id, username: username,
      challengeID: challenge.challengeID, correlationID: correlationID)
    activation.bindingPending = true
    return (activation, challenge)
  }

  /// Bind branch, step 2: the mailed code links the purchaser to the billing account.
  public func confirmBillingAccountBinding(
    sessionID: String, code: String, correlationID: String = UUID().uuidString
  ) async throws -> Activation {
    let (activation, stored, _) = try await current(sessionID)
    guard activation.state == .needsBillingAccount, let username = stored.bindingUsername,
      let challengeID = stored.bindingChallengeID
    else { throw ActivationError.notAllowed(step: "ConfirmBillingAccountBinding", state: activation.state) }
    _ = try await billing.confirmBinding(
      challengeID: challengeID, code: code.trimmingCharacters(in: .whitespaces), username: username,
      tenantID: stored.subscription.purchaser.tenantID, objectID: stored.subscription.purchaser.objectID,
      subscriptionID: stored.subscription.id)
    try await store.recordBindingConfirmed(
      subscriptionID: stored.subscription.id, username: username, correlationID: correlationID)
    return try await self.activation(sessionID: sessionID)
  }

  /// Workspace step: what the linked billing account already pays for.
  public func bindableWorkspaces(sessionID: String) async throws -> [BindableWorkspace] {
    let (activation, _, _) = try await current(sessionID)
    guard activation.state == .needsWorkspace, let account = activation.billingAccount else {
      throw ActivationError.notAllowed(step: "ListBindableWorkspaces", state: activation.state)
    }
    return try await billing.workspaces(of: account.id)
  }

  /// The session's activation as it stands, with what is stored about it.
  private func current(_ sessionID: String) async throws -> (
    activation: Activation, stored: GatewayStore.StoredSession, digest: [UInt8]
  ) {
    let digest = SessionToken.digest(of: sessionID)
    guard SessionToken.isWellFormed(sessionID), let stored = try await store.session(digest: digest) else {
      throw ActivationError.sessionNotFound
    }
    let linked = try await linkedAccount(of: stored.subscription)
    var activation = Activation(
      sessionID: sessionID, state: Activation.state(of: stored.subscription, linked: linked != nil),
      branch: linked == nil ? .notLinked : .alreadyLinked, subscription: stored.subscription,
      billingAccount: linked, expiresAt: stored.expiresAt)
    activation.bindingPending = stored.bindingChallengeID != nil
    return (activation, stored, digest)
  }

  private func linkedAccount(of subscription: MarketplaceSubscription) async throws -> LinkedBillingAccount? {
    do {
      return try await billing.linkedAccount(
        tenantID: subscription.purchaser.tenantID, objectID: subscription.purchaser.objectID)
    } catch {
      throw ActivationError.billingCenterUnavailable
    }
  }
}
