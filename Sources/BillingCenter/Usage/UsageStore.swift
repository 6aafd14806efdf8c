import AccountAccess
public import Foundation

/// Usage and bills: recorded events, days closed once, daily bills.
public protocol UsageStore: Sendable {
  /// Records the events; a key seen before makes its event a duplicate.
  func recordUsage(_ events: [UsageEvent]) async throws -> [UsageResult]
  /// Claims the day (once, whatever the number of replicas), sums its usage per payer,
  /// workspace and item, and stores what `rate` makes of it.
  func closeDay(
    _ day: BillingDay,
    catalogVersion: String,
    rate: @Sendable ([DayUsage]) throws -> (lines: [BillLine], metering: [MeteringRecord])
  ) async throws -> DayClosing
  /// Days with recorded usage that ended before `cutoff` and are not closed, oldest first
  /// (looking back as far as usage may be recorded).
  func daysAwaitingClosure(endedBefore cutoff: Date) async throws -> [BillingDay]
  /// The account's closed days within `range` (inclusive), with their lines.
  func bills(billingAccountID: UUID, days: ClosedRange<BillingDay>) async throws -> [DailyBill]
}
