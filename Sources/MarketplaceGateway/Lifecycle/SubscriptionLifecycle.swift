public import Foundation
public import Logging
public import MarketplaceClient

/// Follows subscriptions after activation: each operation the marketplace reports is checked
/// with the marketplace (Get Operation) before anything is done, plan and quantity changes are
/// accepted or refused by the plan rules, and then the suite is made to match the subscription
/// as the marketplace has it *now* (Get subscription). Following the current state rather than
/// replaying each action is what makes duplicate and reordered deliveries change state once.
public struct SubscriptionLifecycle: Sendable {
  public struct Settings: Sendable {
    public var plans: PlanRules
    /// How long a subscription's data is kept after Unsubscribe (at least the 7 days the
    /// marketplace asks for).
    public var dataRetention: Duration
    /// How long a vendor-started change is polled before giving up (the operation stays known).
    public var confirmationTimeout: Duration

    public init(
      plans: PlanRules = .guance,
      dataRetention: Duration = .seconds(7 * 86400),
      confirmationTimeout: Duration = .seconds(60)
    ) {
      self.plans = plans
      self.dataRetention = max(dataRetention, .seconds(7 * 86400))
      self.confirmationTimeout = confirmationTimeout
    }
  }

  let store: any LifecycleStore
  let marketplace: MarketplaceClient
  let settlements: any SubscriptionSettlements
  let workspaces: any WorkspaceStatuses
  let settings: Settings
  let logger: Logger

  public init(
    store: any LifecycleStore,
    marketplace: MarketplaceClient,
    settlements: any SubscriptionSettlements,
    workspaces: any WorkspaceStatuses,
    settings: Settings,
    logger: Logger
  ) {
    self.store = store
    self.marketplace = marketplace
    self.settlements = settlements
    self.workspaces = workspaces
    self.settings = settings
    self.logger = logger
  }

  /// The marketplace has not finished the operation: it is tried again later.
  struct NotFinishedAtMarketplace: Error, CustomStringConvertible {
    var status: String
    var description: String { "the marketplace has the operation \(status)" }
  }

  /// The actions of the contract; anything else is logged and followed through Get subscription.
  static let knownActions: Set<String> = [
    "ChangePlan", "ChangeQuantity", "Renew", "Suspend", "Reinstate", "Unsubscribe",
  ]

  /// Does one stored operation and says how it ended. Throws when it should be tried again
  /// (the marketplace, billing center or console could not be reached).
  public func process(
    _ operation: LifecycleOperation
  ) async throws -> (LifecycleOperation.State, String) {
    let correlationID = "operation/\(operation.id)"
    let verified: MarketplaceOperation
    do {
      verified = try await marketplace.operation(
        subscriptionID: operation.subscriptionID,
        operationID: operation.id
      )
    } catch MarketplaceError.notFound {
      logger.warning(
        "the marketplace does not know a reported operation; nothing done",
        metadata: ["operation": "\(operation.id)", "subscription": "\(operation.subscriptionID)"]
      )
      return (.unverified, "the marketplace does not know this operation")
    }
    // The marketplace's record of the operation decides, not what was posted to us.
    guard verified.subscriptionID.lowercased() == operation.subscriptionID.lowercased(),
      verified.action == operation.action
    else {
      return (
        .unverified,
        "the marketplace has this operation as \(verified.action) of \(verified.subscriptionID)"
      )
    }
    if !Self.knownActions.contains(verified.action) {
      logger.warning(
        "unknown lifecycle action; following the subscription as the marketplace has it",
        metadata: ["action": "\(verified.action)", "operation": "\(operation.id)"]
      )
    }

    var said: String?
    switch (verified.action, verified.status) {
    case ("ChangePlan", "InProgress"), ("ChangeQuantity", "InProgress"):
      let current = try await marketplace.subscription(id: operation.subscriptionID)
      let decision = settings.plans.decide(verified, current: current)
      said = try await answer(verified, success: decision.accepted)
      if !decision.accepted {
        let followed = try await follow(current, because: operation, correlationID: correlationID)
        return (
          .declined,
          "declined: \(decision.reason); \(said ?? "the marketplace was told Failure"); \(followed)"
        )
      }
      said = "accepted (\(decision.reason)); \(said ?? "the marketplace was told Success")"
      try await awaitEnd(of: verified)
    case ("Reinstate", "InProgress"):
      said = try await answer(verified, success: true) ?? "the marketplace was told Success"
      try await awaitEnd(of: verified)
    case (_, "NotStarted"), (_, "InProgress"):
      // Not ours to answer, and not finished: its outcome is not known yet.
      throw NotFinishedAtMarketplace(status: verified.status)
    case (_, let status):
      said = "the marketplace has it \(status)"
    }
    let subscription = try await marketplace.subscription(id: operation.subscriptionID)
    let followed = try await follow(subscription, because: operation, correlationID: correlationID)
    return (.applied, [said, followed].compactMap { $0 }.joined(separator: "; "))
  }

  /// An operation the marketplace has not ended yet.
  private static func isUnfinished(_ status: String) -> Bool {
    status == "NotStarted" || status == "InProgress"
  }

  /// The marketplace applies an acknowledged operation on its side; until it has, the
  /// subscription it returns may be the old one, so following it waits (briefly) for that.
  private func awaitEnd(of operation: MarketplaceOperation) async throws {
    for attempt in 0..<5 {
      let current = try await marketplace.operation(
        subscriptionID: operation.subscriptionID,
        operationID: operation.id
      )
      if !Self.isUnfinished(current.status) { return }
      if attempt < 4 { try await Task.sleep(for: .milliseconds(200 << attempt)) }
    }
    throw NotFinishedAtMarketplace(status: "InProgress")
  }

  /// PATCHes the operation. A 409 (a newer update is already fulfilled) or 404 means there is
  /// nothing left to answer: the subscription is followed as it is. Returns a note for those.
  private func answer(_ operation: MarketplaceOperation, success: Bool) async throws -> String? {
    do {
      try await marketplace.updateOperation(
        subscriptionID: operation.subscriptionID,
        operationID: operation.id,
        success: success
      )
      return nil
    } catch MarketplaceError.conflict(let message) {
      return "the marketplace answered 409 (\(message))"
    } catch MarketplaceError.notFound(let message) {
      return "the marketplace answered 404 (\(message))"
    }
  }

  /// Makes the billing center, the console and the gateway's record match `subscription`.
  /// Every step may be repeated: a retry after a crash halfway does each again, harmlessly.
  /// Returns what changed, for the operation's outcome.
  @discardableResult
  public func follow(
    _ subscription: MarketplaceSubscription,
    because operation: LifecycleOperation?,
    correlationID: String
  )
    async throws -> String
  {
    let recorded = try await store.followedSubscription(subscription.id)
    let before = recorded?.0
    var notes: [String] = []
    let settlement: SettlementStatus? =
      switch subscription.status {
      case .subscribed: .active
      case .suspended: .suspended
      case .unsubscribed: .unsubscribed
      case .notStarted, .pendingFulfillmentStart, .other: nil
      }
    // An active subscription already recorded as such needs nothing from the others.
    if let settlement, settlement != .active || before?.status != .subscribed {
      let at = min(operation?.marketplaceTime ?? Date(), Date())
      if let outcome = try await settlements.follow(
        subscriptionID: subscription.id,
        status: settlement,
        at: at
      ) {
        // The billing center's status decides, not the one asked for: a cancelled subscription
        // stays cancelled, whatever an older snapshot of the marketplace said.
        let state: WorkspaceState = outcome.status == .active ? .active : .suspended
        let reason =
          switch outcome.status {
          case .active: "marketplace subscription \(subscription.id) is active"
          case .suspended: "marketplace subscription \(subscription.id) is suspended"
          case .unsubscribed: "marketplace subscription \(subscription.id) was cancelled"
          }
        for workspace in outcome.workspaceIDs {
          try await workspaces.set(workspaceID: workspace, to: state, reason: reason)
        }
        if !outcome.workspaceIDs.isEmpty {
          notes.append("\(outcome.workspaceIDs.count) workspace(s) \(state.rawValue)")
        }
      }
    }
    var dataKeptUntil = recorded?.dataKeptUntil
    if subscription.status == .unsubscribed, dataKeptUntil == nil {
      dataKeptUntil = Date().addingTimeInterval(Double(settings.dataRetention.components.seconds))
      notes.append("data kept until \(dataKeptUntil.map { $0.formatted(.iso8601) } ?? "")")
    }
    notes += Self.changes(from: before, to: subscription)
    let summary = notes.isEmpty ? "nothing to change" : notes.joined(separator: ", ")
    try await store.recordFollowed(
      subscription,
      dataKeptUntil: dataKeptUntil,
      event: operation.map { "lifecycle_\($0.action.lowercased())" } ?? "lifecycle_reconciled",
      detail: summary,
      correlationID: correlationID
    )
    if !notes.isEmpty {
      logger.notice(
        "following the marketplace subscription",
        metadata: [
          "subscription": "\(subscription.id)", "changes": "\(summary)",
          "operation": "\(operation?.id ?? "-")",
        ]
      )
    }
    return summary
  }

  // MARK: Changes started by the vendor

  /// A change Guance starts at the marketplace.
  public enum VendorChange: Sendable, Equatable {
    case plan(String)
    case quantity(Int)
    case cancel
  }

  /// Why a vendor-started change is refused before the marketplace is asked.
  public enum VendorChangeRefusal: Error, Equatable {
    case unknownSubscription(String)
    /// Not Subscribed (only cancelling is possible while Suspended; nothing once Unsubscribed).
    case notChangeable(status: String)
    case againstPlanRules(String)
    /// The marketplace refused the request (its message).
    case refusedByMarketplace(String)
  }

  /// Progress of a vendor-started change, for whoever watches it.
  public struct VendorChangeProgress: Sendable, Equatable {
    public enum Stage: String, Sendable {
      case requested, waiting, applied, failed
    }

    public var stage: Stage
    public var operationID: String
    public var marketplaceStatus: String
    public var message: String
  }

  /// Starts `change` at the marketplace (PATCH or DELETE, answered 202 with an operation),
  /// stores the operation, polls it until the marketplace confirms or fails it, and applies it
  /// locally only once confirmed. Should the gateway stop meanwhile, the stored operation is
  /// taken up by the worker after the confirmation timeout, so it is never left half-done.
  public func start(
    _ change: VendorChange,
    on subscriptionID: String,
    progress: @Sendable (VendorChangeProgress) async throws -> Void
  ) async throws {
    guard let (current, _) = try await store.followedSubscription(subscriptionID) else {
      throw VendorChangeRefusal.unknownSubscription(subscriptionID)
    }
    // Plan and seats change only while Subscribed; a suspended subscription may still be cancelled.
    guard current.status == .subscribed || (change == .cancel && current.status == .suspended)
    else {
      throw VendorChangeRefusal.notChangeable(status: current.status.name)
    }
    let (action, planID, quantity): (String, String?, Int?) =
      switch change {
      case .plan(let plan): ("ChangePlan", plan, nil)
      case .quantity(let quantity): ("ChangeQuantity", nil, quantity)
      case .cancel: ("Unsubscribe", nil, nil)
      }
    if change != .cancel {
      if let planID, planID == current.planID {
        throw VendorChangeRefusal.againstPlanRules("the subscription is on plan \(planID) already")
      }
      let decision = settings.plans.decide(
        MarketplaceOperation(
          id: "",
          subscriptionID: subscriptionID,
          action: action,
          planID: planID ?? current.planID,
          quantity: quantity ?? current.quantity,
          status: "",
          requestSource: "Partner"
        ),
        current: current
      )
      guard decision.accepted else { throw VendorChangeRefusal.againstPlanRules(decision.reason) }
      if let quantity, quantity == current.quantity {
        throw VendorChangeRefusal.againstPlanRules("the subscription has \(quantity) seats already")
      }
    }

    let operationID: String
    do {
      operationID =
        switch change {
        case .plan(let plan):
          try await marketplace.changePlan(subscriptionID: subscriptionID, to: plan)
        case .quantity(let quantity):
          try await marketplace.changeQuantity(subscriptionID: subscriptionID, to: quantity)
        case .cancel: try await marketplace.cancel(subscriptionID: subscriptionID)
        }
    } catch MarketplaceError.badRequest(_, let message) {
      throw VendorChangeRefusal.refusedByMarketplace(message)
    } catch MarketplaceError.conflict(let message) {
      throw VendorChangeRefusal.refusedByMarketplace(message)
    }
    var operation = LifecycleOperation(
      id: operationID.lowercased(),
      subscriptionID: subscriptionID,
      action: action,
      planID: planID,
      quantity: quantity,
      requestSource: "Partner",
      source: .publisher,
      marketplaceTime: Date()
    )
    // Due only after the confirmation timeout: the worker leaves it to this call meanwhile,
    // and takes it up should the call not finish it (the gateway stopped, say).
    let confirmationSeconds = Double(
      (settings.confirmationTimeout + .seconds(10)).components.seconds
    )
    try await store.recordOperation(
      operation,
      payload: "",
      notBefore: Date().addingTimeInterval(confirmationSeconds)
    )
    try await progress(
      .init(
        stage: .requested,
        operationID: operation.id,
        marketplaceStatus: "",
        message: "\(action) sent"
      )
    )

    let deadline = ContinuousClock.now + settings.confirmationTimeout
    var status = ""
    while ContinuousClock.now < deadline {
      let polled = try await marketplace.operation(
        subscriptionID: subscriptionID,
        operationID: operation.id
      )
      if polled.status != status {
        status = polled.status
        try await progress(
          .init(stage: .waiting, operationID: operation.id, marketplaceStatus: status, message: "")
        )
      }
      guard Self.isUnfinished(status) else { break }
      try await Task.sleep(for: .seconds(1))
    }
    switch status {
    case "Succeeded":
      let subscription = try await marketplace.subscription(id: subscriptionID)
      operation.marketplaceTime = nil
      let followed = try await follow(
        subscription,
        because: operation,
        correlationID: "operation/\(operation.id)"
      )
      try await store.finishOperation(
        operation.id,
        as: .applied,
        outcome: "confirmed by the marketplace; \(followed)"
      )
      try await progress(
        .init(
          stage: .applied,
          operationID: operation.id,
          marketplaceStatus: status,
          message: followed
        )
      )
    case "Failed", "Conflict":
      try await store.finishOperation(
        operation.id,
        as: .failed,
        outcome: "the marketplace ended it \(status)"
      )
      try await progress(
        .init(
          stage: .failed,
          operationID: operation.id,
          marketplaceStatus: status,
          message: "nothing changed"
        )
      )
    default:
      try await progress(
        .init(
          stage: .waiting,
          operationID: operation.id,
          marketplaceStatus: status,
          message: "not confirmed yet; the gateway applies it once the marketplace does"
        )
      )
    }
  }

  /// What differs between the recorded subscription and the marketplace's, in words; empty
  /// when they agree. Term dates agree to the second (the database keeps microseconds).
  static func changes(
    from recorded: MarketplaceSubscription?,
    to current: MarketplaceSubscription
  ) -> [String] {
    var changes: [String] = []
    if recorded?.status != current.status { changes.append("status \(current.status.name)") }
    if recorded?.planID != current.planID { changes.append("plan \(current.planID)") }
    if recorded?.quantity != current.quantity {
      changes.append("quantity \(current.quantity.map(String.init) ?? "none")")
    }
    if let end = current.termEnd,
      abs((recorded?.termEnd ?? .distantPast).timeIntervalSince(end)) >= 1
    {
      changes.append("term ends \(end.formatted(.iso8601))")
    }
    return changes
  }
}
