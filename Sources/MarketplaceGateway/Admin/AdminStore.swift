public import Foundation
public import MarketplaceClient

/// What operators read and repair through the admin service (`GatewayStore` on PostgreSQL):
/// subscriptions, sessions, sagas, lifecycle operations and the audit trail.
public protocol AdminStore: Sendable {
  func auditEntries(subscriptionID: String) async throws -> [AuditEntry]

  /// Makes a failed or waiting saga due now. A failed one starts again from settling (every
  /// step is idempotent: the billing center and the marketplace recognise a repeat). Nil when
  /// there is no unfinished saga for the subscription, or a live runner holds it now.
  func retrySaga(
    subscriptionID: String,
    correlationID: String
  ) async throws -> SagaOverview?

  func sagaOverview(subscriptionID: String) async throws -> SagaOverview?

  func sessions(subscriptionID: String) async throws -> [SessionOverview]

  /// Failed sagas, and unfinished ones last changed before `cutoff`, oldest first.
  func stuckSagas(changedBefore cutoff: Date) async throws -> [SagaOverview]

  func subscriptionOverview(_ id: String) async throws -> SubscriptionOverview?

  func subscriptions(
    status: String?,
    planID: String?,
    limit: Int
  ) async throws -> [SubscriptionOverview]

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

/// A followed subscription with what operators need beside the marketplace's fields.
public struct SubscriptionOverview: Sendable {
  public var subscription: MarketplaceSubscription
  /// The activation saga's step, or nil before one began.
  public var activationStep: SagaStep?
  public var dataKeptUntil: Date?
  public var createdAt: Date
  public var updatedAt: Date
}

/// An activation saga with its scheduling, for operators.
public struct SagaOverview: Sendable {
  public var record: SagaRecord
  public var nextAttemptAt: Date
  public var updatedAt: Date
}

public struct AuditEntry: Sendable {
  public var event: String
  public var detail: String
  public var correlationID: String
  public var at: Date
}

public struct SessionOverview: Sendable {
  public var branch: String
  public var createdAt: Date
  public var expiresAt: Date
}
