public import Foundation
import PostgresNIO
import SuitePersistence

/// The webhook outbox: operations waiting to be posted to the publisher.
extension EmulatorStore {
  /// An operation due for delivery, with the subscription as it is now.
  public struct Delivery: Sendable {
    public var operation: MarketplaceJSON.Operation
    public var subscription: MarketplaceJSON.Subscription
    public var attempts: Int
  }

  public func dueDeliveries(limit: Int = 20) async throws -> [Delivery] {
    let rows = try await database.execute(
      """
      SELECT \(unescaped: Self.operationColumns), o.webhook_attempts FROM operations o
      WHERE o.webhook_state = 'pending' AND o.webhook_next_attempt_at <= now()
      ORDER BY o.created_at, o.id LIMIT \(limit)
      """
    )
    var due: [(MarketplaceJSON.Operation, UUID, Int)] = []
    for try await row in rows.decode(
      (UUID, UUID, UUID, String, String, Int?, String, String, Date, Int).self
    ) {
      due.append(
        (operation((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8)), row.2, row.9)
      )
    }
    var deliveries: [Delivery] = []
    for (operation, subscriptionID, attempts) in due {
      if let subscription = try await subscription(id: subscriptionID) {
        deliveries.append(
          Delivery(operation: operation, subscription: subscription, attempts: attempts)
        )
      }
    }
    return deliveries
  }

  public func markDelivered(_ operationID: String) async throws {
    guard let id = UUID(uuidString: operationID) else { return }
    try await database.execute(
      """
      UPDATE operations SET webhook_state = 'delivered', delivered_at = now(),
        webhook_attempts = webhook_attempts + 1 WHERE id = \(id)
      """
    )
  }

  /// The publisher answered 4xx: a change awaiting acknowledgement is thereby rejected.
  public func markRejected(_ operationID: String, reason: String) async throws {
    guard let id = UUID(uuidString: operationID) else { return }
    try await database.execute(
      """
      UPDATE operations SET webhook_state = 'failed', webhook_last_error = \(reason),
        webhook_attempts = webhook_attempts + 1, delivered_at = now(),
        status = CASE WHEN status = 'InProgress' THEN 'Failed' ELSE status END, updated_at = now()
      WHERE id = \(id)
      """
    )
  }

  /// No answer or a 5xx: try again later, up to the marketplace's 500 attempts.
  public func markRetry(_ operationID: String, reason: String, maxAttempts: Int = 500) async throws
  {
    guard let id = UUID(uuidString: operationID) else { return }
    try await database.execute(
      """
      UPDATE operations SET webhook_attempts = webhook_attempts + 1, webhook_last_error = \(reason),
        webhook_next_attempt_at = now() + make_interval(secs => LEAST(60, power(2, LEAST(webhook_attempts, 6)))),
        webhook_state = CASE WHEN webhook_attempts + 1 >= \(maxAttempts) THEN 'failed' ELSE 'pending' END
      WHERE id = \(id)
      """
    )
  }

  /// Delivery state of an operation, for tests and the admin endpoint.
  public func deliveryState(_ operationID: UUID) async throws -> (state: String, attempts: Int)? {
    let rows = try await database.execute(
      "SELECT webhook_state, webhook_attempts FROM operations WHERE id = \(operationID)"
    )
    for try await row in rows.decode((String, Int).self) { return row }
    return nil
  }
}
