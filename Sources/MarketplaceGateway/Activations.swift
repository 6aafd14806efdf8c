import AccountKit
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
    guard SessionToken.isWellFormed(sessionID),
      let (subscription, expiresAt) = try await store.session(digest: SessionToken.digest(of: sessionID))
    else { throw ActivationError.sessionNotFound }
    let linked = try await linkedAccount(of: subscription)
    return Activation(
      sessionID: sessionID, state: Activation.state(of: subscription, linked: linked != nil),
      branch: linked == nil ? .notLinked : .alreadyLinked, subscription: subscription, billingAccount: linked,
      expiresAt: expiresAt)
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
