import AccountAccess
public import Foundation

/// Metering records: what the marketplace is to bill, and what it answered.
public protocol MeteringStore: Sendable {
  func pendingMeteringRecords(limit: Int) async throws -> [MeteringRecord]
  /// Returns the keys that matched no record.
  func acknowledge(_ acknowledgements: [MeteringAcknowledgement]) async throws -> [String]
  /// Records in key order, after `afterKey` when given (the last key of the previous page).
  func meteringRecords(
    status: MeteringRecord.Status?,
    day: BillingDay?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  ) async throws -> [MeteringRecord]
  func setDisposition(
    _ disposition: MeteringRecord.Disposition,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
}

/// The marketplace subscriptions' status over time.
public protocol SubscriptionStatusStore: Sendable {
  /// Records the subscription's new status from `at` on (once: the same status again changes
  /// nothing, and nothing follows unsubscribed).
  func setSubscriptionStatus(
    subscriptionID: String,
    to status: CloudSubscriptionStatus,
    at: Date
  )
    async throws -> SubscriptionStatusChange
}
