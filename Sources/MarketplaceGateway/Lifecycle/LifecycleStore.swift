public import Foundation
public import MarketplaceClient

/// What the subscription lifecycle keeps (`GatewayStore` on PostgreSQL): the marketplace's
/// operations, stored before anything is done about them, and the subscriptions the gateway
/// follows.
public protocol LifecycleStore: Sendable {
  /// Takes due operations for the process whose presence is `runner`, at most one per
  /// subscription and none of a subscription whose other operation is being done, oldest
  /// first. An operation whose process died is due again at once; `lease` bounds how long a
  /// live but stuck worker keeps one.
  func claimDueOperations(
    limit: Int,
    runner: Int32,
    lease: Duration
  ) async throws -> [LifecycleOperation]

  /// Ends an operation with what was done.
  func finishOperation(
    _ id: String,
    as state: LifecycleOperation.State,
    outcome: String
  ) async throws

  /// Those of `ids` the gateway follows, with their recorded status, plan and quantity (the
  /// reconciler asks a page of the marketplace's list at a time).
  func followedSubscriptions(ids: [String]) async throws -> [String: MarketplaceSubscription]

  /// The subscription as the gateway last recorded it, with when its data may go (after
  /// Unsubscribe).
  func followedSubscription(
    _ id: String
  ) async throws -> (MarketplaceSubscription, dataKeptUntil: Date?)?

  func markOperationsChecked(subscriptionID: String) async throws

  /// Stores an operation before anything is done about it, due at `notBefore` (now when nil).
  /// A redelivery is counted and changes nothing else, except that an operation the
  /// marketplace did not know when asked is looked at again. Returns true when it is new.
  @discardableResult
  func recordOperation(
    _ operation: LifecycleOperation,
    payload: String,
    notBefore: Date?
  )
    async throws -> Bool

  /// Leaves an operation for another attempt after `delay`.
  func retryOperation(_ id: String, after delay: Duration, problem: String) async throws

  /// Up to `limit` subscriptions (Subscribed or Suspended) whose outstanding operations have
  /// been asked for longest ago (never first).
  func subscriptionsDueForOperationCheck(limit: Int) async throws -> [String]

  /// Records the subscription as the marketplace has it now (inserting it if the gateway never
  /// saw it), and an audit row — one statement. A retention date, once set, stays.
  func recordFollowed(
    _ subscription: MarketplaceSubscription,
    dataKeptUntil: Date?,
    event: String,
    detail: String,
    correlationID: String
  ) async throws
}
