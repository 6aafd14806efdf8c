import AccountAccess
import AccountKit
public import Foundation
import Mailer
import SuiteErrors

/// Metering records for the marketplace, and the subscriptions' status.
extension GuanceBilling {
  public func setSubscriptionStatus(
    _ rawID: String,
    to status: CloudSubscriptionStatus?,
    at: Date?
  )
    async throws -> SubscriptionStatusChange
  {
    let now = clock()
    let id = try Self.subscriptionID(rawID)
    guard let status else {
      throw ServiceError.invalid(field: "status", "must be ACTIVE, SUSPENDED or UNSUBSCRIBED")
    }
    let effective = at ?? now
    guard Self.isRecent(effective, now: now) else {
      throw ServiceError.invalid(
        field: "effective_at",
        "must not be in the future nor more than 30 days old"
      )
    }
    return try await store.setSubscriptionStatus(subscriptionID: id, to: status, at: effective)
  }

  /// Metering records of any status in key order, filtered as asked, a page at a time.
  public func meteringRecords(
    status: MeteringRecord.Status?,
    day rawDay: String,
    subscriptionID rawSubscription: String,
    afterKey: String,
    limit raw: Int
  ) async throws -> [MeteringRecord] {
    var validation = Validation()
    validation.require((0...1000).contains(raw), "limit", "must be 1 to 1000 (0 means 100)")
    let day = rawDay.isEmpty ? nil : BillingDay(rawDay)
    validation.require(rawDay.isEmpty || day != nil, "day", "must be a date as YYYY-MM-DD")
    // Empty means any subscription; anything else must look like one.
    let subscription = rawSubscription.isEmpty ? nil : try? Self.subscriptionID(rawSubscription)
    validation.require(
      rawSubscription.isEmpty || subscription != nil,
      "marketplace_subscription_id",
      "must be a marketplace subscription id"
    )
    validation.require(afterKey.utf8.count <= 255, "after_key", "must be a metering record key")
    try validation.finish()
    return try await store.meteringRecords(
      status: status,
      day: day,
      subscriptionID: subscription,
      afterKey: afterKey.isEmpty ? nil : afterKey,
      limit: raw == 0 ? 100 : raw
    )
  }

  /// Resubmits or parks one record; a delivered record is refused (it is billed already).
  public func setDisposition(
    _ disposition: MeteringRecord.Disposition?,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
  {
    var validation = Validation()
    validation.require((1...255).contains(key.utf8.count), "key", "must be a metering record key")
    validation.require(disposition != nil, "disposition", "must be RESUBMIT or PARK")
    validation.require(reason.count <= 500, "reason", "must be at most 500 characters")
    try validation.finish()
    guard let disposition else {
      throw ServiceError.invalid(field: "disposition", "must be RESUBMIT or PARK")
    }
    return try await store.setDisposition(disposition, ofRecord: key, reason: reason)
  }

  public func pendingMeteringRecords(limit raw: Int) async throws -> [MeteringRecord] {
    guard (0...1000).contains(raw) else {
      throw ServiceError.invalid(field: "limit", "must be 1 to 1000 (0 means 100)")
    }
    return try await store.pendingMeteringRecords(limit: raw == 0 ? 100 : raw)
  }

  public func acknowledge(_ acknowledgements: [MeteringAcknowledgement?]) async throws -> [String] {
    var validation = Validation()
    validation.require(
      (1...1000).contains(acknowledgements.count),
      "acknowledgements",
      "must hold 1 to 1000 entries"
    )
    for (index, ack) in acknowledgements.enumerated() {
      validation.require(ack != nil, "acknowledgements[\(index)]", "needs a key and an outcome")
    }
    try validation.finish()
    return try await store.acknowledge(acknowledgements.compactMap { $0 })
  }
}
