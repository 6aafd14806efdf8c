import Crypto
public import Foundation
public import Logging
public import MarketplaceClient
public import SuitePersistence

/// Carries an activation from "a workspace was chosen" to "the subscription is Subscribed":
/// link the subscription to the billing account and settle the workspace through it (one
/// billing-center call), then Activate with the marketplace. Each step is written before its remote call
/// and after it, so whoever resumes the saga (the reconciler after a crash) knows where it
/// stood. Free of gRPC and SQL.
public struct ActivationSaga: Sendable {
  public struct Settings: Sendable {
    /// The longest a live runner holds a saga (or a workspace creation) before another may take
    /// it over. A runner whose process dies lets go at once (see `Presence`): this only bounds
    /// a runner alive but stuck.
    public var lease: Duration
    /// The first retry's delay after a transient failure; doubled per retry up to `maxRetryDelay`.
    public var retryDelay: Duration
    public var maxRetryDelay: Duration

    public init(
      lease: Duration = .seconds(30),
      retryDelay: Duration = .seconds(5),
      maxRetryDelay: Duration = .seconds(300)
    ) {
      self.lease = lease
      self.retryDelay = retryDelay
      self.maxRetryDelay = maxRetryDelay
    }
  }

  let store: any ActivationStore
  let settings: Settings
  /// This process in the database: what the sagas and creations it runs are marked with.
  let presence: Presence
  private let marketplace: MarketplaceClient
  private let billing: any BillingDirectory
  private let logger: Logger

  public init(
    store: any ActivationStore,
    presence: Presence,
    marketplace: MarketplaceClient,
    billing: any BillingDirectory,
    settings: Settings,
    logger: Logger
  ) {
    self.store = store
    self.presence = presence
    self.marketplace = marketplace
    self.billing = billing
    self.settings = settings
    self.logger = logger
  }

  /// Runs a saga this process has claimed (its `runner`) until it is activated, fails for good
  /// or is scheduled for a retry, and returns it as it then stands. Throws the billing center's
  /// refusal of the workspace (the saga is then abandoned, nothing having changed) so that the
  /// caller can show it, and errors of its own store (the saga then waits for the reconciler).
  /// A saga another process has taken over meanwhile (this one lost its presence) is left to
  /// it at the next step.
  @discardableResult
  public func run(
    _ saga: SagaRecord,
    subscription: MarketplaceSubscription,
    correlationID: String
  ) async throws
    -> SagaRecord
  {
    var saga = saga
    // Only a claimed saga has a runner; only an unfinished one has a step to run.
    guard let runner = saga.runner, saga.step == .settling || saga.step == .activating else {
      return saga
    }
    do {
      let attempts: Int?
      if saga.step == .settling {
        let workspace: BoundWorkspace
        do {
          workspace = try await billing.settle(
            workspaceID: saga.workspaceID,
            origin: saga.origin,
            billingAccountID: saga.billingAccountID,
            subscriptionID: subscription.id,
            purchaser: subscription.purchaser
          )
        } catch  where !Self.isTransient(error) {
          // The billing center refused (not our workspace, closed...): nothing changed there.
          try await store.abandonSaga(
            subscription.id,
            problem: Self.describe(error),
            correlationID: correlationID
          )
          throw error
        }
        attempts = try await store.markSettledAndRequestActivate(
          subscription.id,
          workspace: workspace,
          runner: runner,
          lease: settings.lease,
          correlationID: correlationID
        )
        if attempts != nil {
          saga.workspace = workspace
          saga.step = .activating
          saga.problem = nil
        }
      } else {
        attempts = try await store.recordActivateAttempt(
          subscription.id,
          runner: runner,
          lease: settings.lease,
          correlationID: correlationID
        )
      }
      // None: another process took the saga over (this one lost its presence) and runs it now.
      guard let attempts else { return saga }
      try await activate(
        subscription,
        attempts: attempts,
        runner: runner,
        correlationID: correlationID,
        saga: &saga
      )
    } catch  where Self.isTransient(error) {
      let delay = retryDelay(after: saga.retries)
      logger.warning(
        "activation interrupted; retrying later",
        metadata: [
          "subscription": "\(subscription.id)", "step": "\(saga.step)", "error": "\(error)",
          "retry_in": "\(delay)",
        ]
      )
      saga.problem = Self.describe(error)
      saga.retries += 1
      try await store.scheduleRetry(
        subscription.id,
        runner: runner,
        after: delay,
        problem: Self.describe(error),
        correlationID: correlationID
      )
    }
    return saga
  }

  private func activate(
    _ subscription: MarketplaceSubscription,
    attempts: Int,
    runner: Int32,
    correlationID: String,
    saga: inout SagaRecord
  ) async throws {
    // An earlier call may have reached the marketplace before its runner died: ask first.
    if attempts > 1, try await isActive(subscription.id) {
      return try await finish(subscription, correlationID: correlationID, saga: &saga)
    }
    do {
      try await marketplace.activate(
        subscriptionID: subscription.id,
        planID: subscription.planID,
        quantity: subscription.quantity,
        correlationID: Self.idempotencyKey(subscriptionID: subscription.id, step: "activate")
      )
    } catch let error as MarketplaceError where !error.isTransient {
      // "Already Subscribed" after a retried call whose first answer was lost is success.
      if try await isActive(subscription.id) {
        return try await finish(subscription, correlationID: correlationID, saga: &saga)
      }
      logger.error(
        "the marketplace refused the activation",
        metadata: ["subscription": "\(subscription.id)", "error": "\(error)"]
      )
      try await store.failSaga(
        subscription.id,
        runner: runner,
        problem: Self.describe(error),
        correlationID: correlationID
      )
      saga.step = .failed
      saga.problem = Self.describe(error)
      return
    }
    try await finish(subscription, correlationID: correlationID, saga: &saga)
  }

  private func finish(
    _ subscription: MarketplaceSubscription,
    correlationID: String,
    saga: inout SagaRecord
  )
    async throws
  {
    try await store.finishSaga(subscription.id, correlationID: correlationID)
    saga.step = .activated
    saga.problem = nil
  }

  /// Whether the marketplace already has the subscription active. A refusal to say (unknown
  /// subscription...) counts as no; silence (5xx, timeout) is thrown, to be retried.
  private func isActive(_ subscriptionID: String) async throws -> Bool {
    do {
      switch try await marketplace.subscription(id: subscriptionID).status {
      case .subscribed, .suspended: return true
      default: return false
      }
    } catch let error as MarketplaceError where !Self.isTransient(error) {
      return false
    }
  }

  func retryDelay(after retries: Int) -> Duration {
    min(settings.retryDelay * (1 << min(retries, 16)), settings.maxRetryDelay)
  }

  /// The same key for every attempt at one step of one subscription's saga, so the
  /// marketplace's logs (and support) see one operation however often it is retried.
  public static func idempotencyKey(subscriptionID: String, step: String) -> String {
    let b = Array(SHA256.hash(data: Data("\(subscriptionID)/\(step)".utf8)))
    return UUID(
      uuid: (
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
      )
    ).uuidString.lowercased()
  }

  static func isTransient(_ error: any Error) -> Bool {
    switch error {
    case let error as MarketplaceError:
      // 401/403 are configuration the operator fixes; the activation should then go through.
      switch error {
      case .unauthorized, .forbidden: true
      default: error.isTransient
      }
    case is DependencyUnavailable, is PresenceLost: true
    case ActivationError.marketplaceUnavailable, ActivationError.billingCenterUnavailable: true
    default: false
    }
  }

  static func describe(_ error: any Error) -> String {
    String(String(describing: error).prefix(500))
  }
}
