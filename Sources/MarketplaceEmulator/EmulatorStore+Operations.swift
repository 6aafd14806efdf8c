public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Operations: changes started by the publisher (PATCH/DELETE) or by the marketplace
/// (the admin triggers), and their acknowledgement (docs/azure-saas-contract.md §4–5, §7).
extension EmulatorStore {
  static let operationColumns = """
    o.id, o.activity_id, o.subscription_id, o.action, o.plan_id, o.quantity, o.status,
    o.request_source, o.created_at
    """
  typealias OperationRow = (UUID, UUID, UUID, String, String, Int?, String, String, Date)

  func operation(_ row: OperationRow) -> MarketplaceJSON.Operation {
    MarketplaceJSON.Operation(
      id: row.0.uuidString.lowercased(),
      activityId: row.1.uuidString.lowercased(),
      subscriptionId: row.2.uuidString.lowercased(),
      offerId: catalog.offerId,
      publisherId: catalog.publisherId,
      planId: row.4,
      quantity: row.5,
      action: row.3,
      timeStamp: MarketplaceJSON.timestamp(row.8),
      status: row.6,
      operationRequestSource: row.7
    )
  }

  /// Actions the marketplace itself can start, and the states they start from.
  public enum MarketplaceAction: String, Sendable, CaseIterable {
    case changePlan = "ChangePlan"
    case changeQuantity = "ChangeQuantity"
    case renew = "Renew"
    case suspend = "Suspend"
    case reinstate = "Reinstate"
    case unsubscribe = "Unsubscribe"

    var allowedFrom: Set<String> {
      switch self {
      case .changePlan, .changeQuantity, .renew, .suspend: ["Subscribed"]
      case .reinstate: ["Suspended"]
      case .unsubscribe: ["Subscribed", "Suspended"]
      }
    }

    /// Whether the publisher must acknowledge it (else it is done when sent).
    var awaitsAcknowledgement: Bool { [.changePlan, .changeQuantity, .reinstate].contains(self) }
  }

  /// The subscription's row, locked, with the publisher's view of it.
  private func lockedSubscription(
    _ id: UUID,
    on connection: PostgresConnection
  ) async throws
    -> (status: String, plan: String, quantity: Int?)
  {
    let rows = try await connection.execute(
      "SELECT status, plan_id, quantity FROM subscriptions WHERE id = \(id) FOR UPDATE",
      logger: logger
    )
    for try await row in rows.decode((String, String, Int?).self) { return row }
    throw Refusal.notFound("subscription \(id) not found")
  }

  /// Checks a plan or quantity change against the catalog and the current values.
  private func checkChange(
    planID: String?,
    quantity: Int?,
    current: (status: String, plan: String, quantity: Int?)
  )
    throws -> (action: String, plan: String, quantity: Int?)
  {
    guard current.status == "Subscribed" else {
      throw Refusal.badRequest("the subscription is \(current.status)")
    }
    switch (planID, quantity) {
    case (.some(let plan), nil):
      guard let target = catalog.plan(plan) else {
        throw Refusal.badRequest("unknown plan \(plan)")
      }
      guard plan != current.plan else {
        throw Refusal.badRequest("the subscription is already on plan \(plan)")
      }
      return (
        "ChangePlan", plan,
        target.isPricePerSeat ? (current.quantity ?? target.minQuantity ?? 1) : nil
      )
    case (nil, .some(let quantity)):
      guard let plan = catalog.plan(current.plan), plan.isPricePerSeat else {
        throw Refusal.badRequest("the plan is not priced per seat")
      }
      guard quantity >= (plan.minQuantity ?? 1), quantity <= (plan.maxQuantity ?? Int.max) else {
        throw Refusal.badRequest("quantity outside the plan's limits")
      }
      guard quantity != current.quantity else {
        throw Refusal.badRequest("the quantity is already \(quantity)")
      }
      return ("ChangeQuantity", current.plan, quantity)
    default:
      throw Refusal.badRequest("change either planId or quantity, not both and not neither")
    }
  }

  private func insertOperation(
    subscription: UUID,
    action: String,
    plan: String,
    quantity: Int?,
    status: String,
    source: String,
    on connection: PostgresConnection
  ) async throws -> UUID {
    let id = UUID()
    try await connection.execute(
      """
      INSERT INTO operations (id, activity_id, subscription_id, action, plan_id, quantity, status, request_source)
      VALUES (\(id), \(UUID()), \(subscription), \(action), \(plan), \(quantity), \(status), \(source))
      """,
      logger: logger
    )
    return id
  }

  /// Applies a succeeded operation to its subscription.
  private func apply(
    action: String,
    plan: String,
    quantity: Int?,
    to subscription: UUID,
    on connection: PostgresConnection
  ) async throws {
    let update: FixedQuery =
      switch action {
      case "ChangePlan", "ChangeQuantity":
        "UPDATE subscriptions SET plan_id = \(plan), quantity = \(quantity), last_modified = now() WHERE id = \(subscription)"
      case "Suspend":
        "UPDATE subscriptions SET status = 'Suspended', last_modified = now() WHERE id = \(subscription)"
      case "Reinstate":
        "UPDATE subscriptions SET status = 'Subscribed', last_modified = now() WHERE id = \(subscription)"
      case "Unsubscribe":
        "UPDATE subscriptions SET status = 'Unsubscribed', last_modified = now() WHERE id = \(subscription)"
      case "Renew":
        """
        UPDATE subscriptions SET term_start = term_end,
          term_end = term_end + (term_end - term_start), last_modified = now()
        WHERE id = \(subscription)
        """
      default: "SELECT 1"
      }
    try await connection.execute(update, logger: logger)
  }

  /// PATCH /saas/subscriptions/{id}: a change the publisher starts. The marketplace carries it
  /// out at once and tells the publisher through the webhook.
  public func change(id: UUID, planID: String?, quantity: Int?) async throws -> UUID {
    try await database.transaction { connection in
      let current = try await lockedSubscription(id, on: connection)
      let change = try checkChange(planID: planID, quantity: quantity, current: current)
      let operation = try await insertOperation(
        subscription: id,
        action: change.action,
        plan: change.plan,
        quantity: change.quantity,
        status: "Succeeded",
        source: "Partner",
        on: connection
      )
      try await apply(
        action: change.action,
        plan: change.plan,
        quantity: change.quantity,
        to: id,
        on: connection
      )
      return operation
    }
  }

  /// DELETE /saas/subscriptions/{id}: the publisher cancels.
  public func cancel(id: UUID) async throws -> UUID {
    try await database.transaction { connection in
      let current = try await lockedSubscription(id, on: connection)
      guard current.status != "Unsubscribed" else {
        throw Refusal.notFound("subscription \(id) is unsubscribed")
      }
      let operation = try await insertOperation(
        subscription: id,
        action: "Unsubscribe",
        plan: current.plan,
        quantity: current.quantity,
        status: "Succeeded",
        source: "Partner",
        on: connection
      )
      try await apply(
        action: "Unsubscribe",
        plan: current.plan,
        quantity: current.quantity,
        to: id,
        on: connection
      )
      return operation
    }
  }

  /// An event the marketplace starts (the admin endpoint stands in for the customer).
  public func trigger(
    _ action: MarketplaceAction,
    id: UUID,
    planID: String?,
    quantity: Int?
  ) async throws -> MarketplaceJSON.Operation {
    try await startOperation(on: id) { connection in
      let current = try await lockedSubscription(id, on: connection)
      guard action.allowedFrom.contains(current.status) else {
        throw Refusal.badRequest("\(action.rawValue) is not possible while \(current.status)")
      }
      var plan = current.plan
      var seats = current.quantity
      if action == .changePlan || action == .changeQuantity {
        let change = try checkChange(
          planID: action == .changePlan ? planID : nil,
          quantity: action == .changeQuantity ? quantity : nil,
          current: current
        )
        (plan, seats) = (change.plan, change.quantity)
      }
      let status = action.awaitsAcknowledgement ? "InProgress" : "Succeeded"
      let operation = try await insertOperation(
        subscription: id,
        action: action.rawValue,
        plan: plan,
        quantity: seats,
        status: status,
        source: "Azure",
        on: connection
      )
      if !action.awaitsAcknowledgement {
        try await apply(
          action: action.rawValue,
          plan: plan,
          quantity: seats,
          to: id,
          on: connection
        )
      }
      return operation
    }
  }

  /// An operation with an action the contract does not name, as a newer marketplace might
  /// send: Succeeded at once, changing nothing, delivered to the webhook like any other.
  public func notice(_ action: String, id: UUID) async throws -> MarketplaceJSON.Operation {
    try await startOperation(on: id) { connection in
      let current = try await lockedSubscription(id, on: connection)
      return try await insertOperation(
        subscription: id,
        action: action,
        plan: current.plan,
        quantity: current.quantity,
        status: "Succeeded",
        source: "Azure",
        on: connection
      )
    }
  }

  /// The operation `start` records in its transaction, read back once committed.
  private func startOperation(
    on subscription: UUID,
    _ start: @Sendable (PostgresConnection) async throws -> UUID
  ) async throws -> MarketplaceJSON.Operation {
    let operationID = try await database.transaction(start)
    guard
      let operation = try await operation(subscriptionID: subscription, operationID: operationID)
    else {
      throw Refusal.notFound("operation \(operationID) not found")
    }
    return operation
  }

  public func operations(
    subscriptionID: UUID,
    outstandingOnly: Bool
  ) async throws -> [MarketplaceJSON.Operation] {
    guard try await subscription(id: subscriptionID) != nil else {
      throw Refusal.notFound("subscription \(subscriptionID) not found")
    }
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.operationColumns) FROM operations o
      WHERE o.subscription_id = \(subscriptionID) AND (NOT \(outstandingOnly) OR o.status = 'InProgress')
      ORDER BY o.created_at, o.id
      """
    )
    var operations: [MarketplaceJSON.Operation] = []
    for try await row in rows.decode(OperationRow.self) { operations.append(operation(row)) }
    return operations
  }

  public func operation(
    subscriptionID: UUID,
    operationID: UUID
  ) async throws -> MarketplaceJSON.Operation? {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.operationColumns) FROM operations o
      WHERE o.id = \(operationID) AND o.subscription_id = \(subscriptionID)
      """
    )
    for try await row in rows.decode(OperationRow.self) { return operation(row) }
    return nil
  }

  /// PATCH of an operation by the publisher: `Success` applies it, `Failure` fails it. 409 when
  /// a newer operation of the subscription has already succeeded, or this one ended otherwise.
  public func acknowledge(subscriptionID: UUID, operationID: UUID, success: Bool) async throws {
    try await database.transaction { connection in
      _ = try await lockedSubscription(subscriptionID, on: connection)
      let rows = try await connection.execute(
        """
        SELECT o.action, o.plan_id, o.quantity, o.status, o.created_at,
          EXISTS (SELECT 1 FROM operations n WHERE n.subscription_id = o.subscription_id
                  AND n.created_at > o.created_at AND n.status = 'Succeeded')
        FROM operations o WHERE o.id = \(operationID) AND o.subscription_id = \(subscriptionID)
        FOR UPDATE OF o
        """,
        logger: logger
      )
      var found: (String, String, Int?, String, Date, Bool)?
      for try await row in rows.decode((String, String, Int?, String, Date, Bool).self) {
        found = row
      }
      guard let (action, plan, quantity, status, _, superseded) = found else {
        throw Refusal.notFound("operation \(operationID) not found")
      }
      let target = success ? "Succeeded" : "Failed"
      if status == target { return }
      guard status == "InProgress" else {
        throw Refusal.conflict("the operation has already ended as \(status)")
      }
      guard !superseded else { throw Refusal.conflict("a newer update is already fulfilled") }
      try await connection.execute(
        "UPDATE operations SET status = \(target), updated_at = now() WHERE id = \(operationID)",
        logger: logger
      )
      if success {
        try await apply(
          action: action,
          plan: plan,
          quantity: quantity,
          to: subscriptionID,
          on: connection
        )
      }
    }
  }

  /// ChangePlan/ChangeQuantity not answered within `after` of delivery are accepted, as the
  /// marketplace does after 10 s. Returns how many.
  @discardableResult
  public func autoAccept(after: Duration) async throws -> Int {
    let seconds = Double(after.components.seconds)
    let rows = try await database.execute(
      """
      SELECT o.subscription_id, o.id FROM operations o
      WHERE o.status = 'InProgress' AND o.action IN ('ChangePlan', 'ChangeQuantity')
        AND o.delivered_at IS NOT NULL AND o.delivered_at < now() - make_interval(secs => \(seconds))
      """
    )
    var due: [(UUID, UUID)] = []
    for try await row in rows.decode((UUID, UUID).self) { due.append(row) }
    for (subscription, operation) in due {
      try? await acknowledge(subscriptionID: subscription, operationID: operation, success: true)
    }
    return due.count
  }
}
