public import Foundation
public import MarketplaceClient

/// What operators read and repair through the admin service (`GatewayStore` on PostgreSQL):
/// subscriptions, sessions, sagas, lifecycle operations and the audit trail.
public protocol AdminStore: Sendable {
  func auditEntries(subscriptionID: String) async throws -> [GatewayStore.AuditEntry]

  /// Makes a failed or waiting saga due now. A failed one starts again from settling (every
  /// step is idempotent: the billing center and the marketplace recognise a repeat). Nil when
  /// there is no unfinished saga for the subscription, or a live runner holds it now.
  func retrySaga(
    subscriptionID: String,
    correlationID: String
  ) async throws -> GatewayStore.SagaOverview?

  func sagaOverview(subscriptionID: String) async throws -> GatewayStore.SagaOverview?

  func sessions(subscriptionID: String) async throws -> [GatewayStore.SessionOverview]

  /// Failed sagas, and unfinished ones last changed before `cutoff`, oldest first.
  func stuckSagas(changedBefore cutoff: Date) async throws -> [GatewayStore.SagaOverview]

  func subscriptionOverview(_ id: String) async throws -> GatewayStore.SubscriptionOverview?

  func subscriptions(
    status: String?,
    planID: String?,
    limit: Int
  ) async throws -> [GatewayStore.SubscriptionOverview]

  /// Operations, newest first, filtered as asked.
  func lifecycleOperations(
    subscriptionID: String?,
    state: LifecycleOperation.State?,
    limit: Int
  )
    async throws -> [LifecycleOperation]

  /// Whether a worker holds the operation now.
  func operationIsLeased(_ id: String) async throws -> Bool

  /// Makes an operation due again (an operator's replay); nil when there is no such
  /// operation or a worker has it now (it is not taken from under it).
  func replayOperation(_ id: String) async throws -> LifecycleOperation?
}
