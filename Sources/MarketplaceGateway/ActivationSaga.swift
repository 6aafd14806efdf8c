import Crypto
public import Foundation
public import Logging
public import MarketplaceClient

/// Carries an activation from "a workspace was chosen" to "the subscription is Subscribed":
/// link the subscription to the billing account and settle the workspace through it (billing
/// center), then Activate with the marketplace. Each step is written before its remote call
/// and after it, so whoever resumes the saga (the reconciler after a crash) knows where it
/// stood. Free of gRPC and SQL.
public struct ActivationSaga: Sendable {
  public struct Settings: Sendable {
    /// How long a runner holds a saga before another may take it over.
    public var lease: Duration
    /// The first retry's delay after a transient failure; doubled per retry up to `maxRetryDelay`.
    public var retryDelay: Duration
    public var maxRetryDelay: Duration

    public init(
      lease: Duration = .seconds(30), retryDelay: Duration = .seconds(5), maxRetryDelay: Duration = .seconds(300)
    ) {
      self.lease = lease
      self.retryDelay = retryDelay
      self.maxRetryDelay = maxRetryDelay
    }
  }

  let store: GatewayStore
  let settings: Settings
  private let marketplace: MarketplaceClient
  private let billing: any BillingDirectory
  private let logger: Logger

  public init(
    store: GatewayStore, marketplace: MarketplaceClient, billing: any BillingDirectory, settings: Settings,
    logger: Logger
  ) {
    self.store = store
    self.marketplace = marketplace
    self.billing = billing
    self.settings = settings
    self.logger = logger
  }

  /// Runs a saga whose lease the caller holds until it is activated, fails for good or is
  /// scheduled for a retry. Throws the billing center's refusal of the workspace (the saga is
  /// then abandoned, nothing having changed) so that the caller can show it.
  public func run(_ saga: SagaRecord, subscription: MarketplaceSubscription, correlationID: String) async throws {
    var step = saga.step
    do {
      if step == .settling {
        try await billing.link(
          billingAccountID: saga.billingAccountID, tenantID: subscription.purchaser.tenantID,
          objectID: subscription.purchaser.objectID, subscriptionID: subscription.id)
        let workspace = try await billing.settle(
          workspaceID: saga.workspaceID, origin: saga.origin, billingAccountID: saga.billingAccountID,
          subscriptionID: subscription.id)
        try await store.markSettled(subscription.id, workspace: workspace, correlationID: correlationID)
        step = .activating
      }
      if step == .activating {
        try await activate(subscription, correlationID: correlationID)
      }
    } catch where Self.isTransient(error) {
      let delay = retryDelay(after: saga.retries)
      logger.warning(
        "activation interrupted; retrying later",
        metadata: ["subscription": "\(subscription.id)", "step": "\(step)", "error": "\(error)", "retry_in": "\(delay)"])
      try await store.scheduleRetry(subscription.id, after: delay, problem: Self.describe(error), correlationID: correlationID)
    } catch where step == .settling {
      try await store.abandonSaga(subscription.id, problem: Self.describe(error), correlationID: correlationID)
      throw error
    }
  }

  private func activate(_ subscription: MarketplaceSubscription, correlationID: String) async throws {
    let attempts = try await store.recordActivateAttempt(
      subscription.id, lease: settings.lease, correlationID: correlationID)
    // An earlier call may have reached the marketplace before its runner died: ask first.
    if attempts > 1, try await isActive(subscription.id) {
      try await store.finishSaga(subscription.id, correlationID: correlationID)
      return
    }
    do {
      try await marketplace.activate(
        subscriptionID: subscription.id, planID: subscription.planID, quantity: subscription.quantity,
        correlationID: Self.idempotencyKey(subscriptionID: subscription.id, step: "activate"))
    } catch let error as MarketplaceError where !error.isTransient {
      // "Already Subscribed" after a retried call whose first answer was lost is success.
      if try await isActive(subscription.id) {
        try await store.finishSaga(subscription.id, correlationID: correlationID)
        return
      }
      logger.error(
        "the marketplace refused the activation", metadata: ["subscription": "\(subscription.id)", "error": "\(error)"])
      try await store.failSaga(subscription.id, problem: Self.describe(error), correlationID: correlationID)
      return
    }
    try await store.finishSaga(subscription.id, correlationID: correlationID)
  }

  private func isActive(_ subscriptionID: String) async throws -> Bool {
    switch try await marketplace.subscription(id: subscriptionID).status {
    case .subscribed, .suspended: true
    default: false
    }
  }

  func retryDelay(after retries: Int) -> Duration {
    min(settings.retryDelay * (1 << min(retries, 16)), settings.maxRetryDelay)
  }

  /// The same key for every attempt at one step of one subscription's saga, so the
  /// marketplace's logs (and support) see one operation however often it is retried.
  static func idempotencyKey(subscriptionID: String, step: String) -> String {
    let bytes = Array(SHA256.hash(data: Data("\(subscriptionID)/\(step)".utf8)).prefix(16))
    let hex = bytes.map { String(format: "%02x", $0) }.joined()
    let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
      hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)]
    }
    return parts.joined(separator: "-")
  }

  static func isTransient(_ error: any Error) -> Bool {
    switch error {
    case let error as MarketplaceError:
      // 401/403 are configuration the operator fixes; the activation should then go through.
      switch error {
      case .unauthorized, .forbidden: true
      default: error.isTransient
      }
    case is DependencyUnavailable: true
    case ActivationError.marketplaceUnavailable, ActivationError.billingCenterUnavailable: true
    default: false
    }
  }

  static func describe(_ error: any Error) -> String {
    String(String(describing: error).prefix(500))
  }
}
