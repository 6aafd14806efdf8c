import AccountAccess
import AccountKit
public import Foundation
import Mailer
import SuiteErrors
import SuiteKit

/// Usage and bills: the usage ledger, days closed once, daily bills.
extension GuanceBilling {

  /// A usage event as received, before validation.
  public struct RawUsageEvent: Sendable {
    public var idempotencyKey: String
    public var workspaceID: String
    public var billingItem: String
    public var quantity: String
    public var usageTime: Date?

    public init(
      idempotencyKey: String,
      workspaceID: String,
      billingItem: String,
      quantity: String,
      usageTime: Date?
    ) {
      self.idempotencyKey = idempotencyKey
      self.workspaceID = workspaceID
      self.billingItem = billingItem
      self.quantity = quantity
      self.usageTime = usageTime
    }
  }

  public static let maxUsageBatch = 1000
  /// Usage older than this is refused: its day has long been billed.
  public static let maxUsageAge: TimeInterval = 30 * 86400

  /// Records a batch: every event valid or nothing is written.
  public func recordUsage(_ raw: [RawUsageEvent]) async throws -> [UsageResult] {
    let now = clock()
    var validation = Validation()
    validation.require(
      (1...Self.maxUsageBatch).contains(raw.count),
      "events",
      "must hold 1 to \(Self.maxUsageBatch) events"
    )
    var events: [UsageEvent] = []
    events.reserveCapacity(raw.count)
    for (index, event) in raw.enumerated() where validation.violations.count < 20 {
      let keyOK = event.idempotencyKey.isPrintableASCII(length: 1...255)
      validation.require(
        keyOK,
        "events[\(index)].idempotency_key",
        "must be 1 to 255 printable ASCII characters"
      )
      let workspace = UUID(canonical: event.workspaceID)
      validation.require(
        workspace != nil,
        "events[\(index)].workspace_id",
        "must be a workspace id"
      )
      validation.require(
        catalog.item(event.billingItem) != nil,
        "events[\(index)].billing_item",
        "must be one of: \(catalog.items.map(\.code).joined(separator: ", "))"
      )
      let quantity = UsageQuantity(event.quantity)
      validation.require(
        quantity != nil,
        "events[\(index)].quantity",
        "must be a non-negative decimal with at most 6 decimals"
      )
      let time = event.usageTime
      validation.require(
        time.map { Self.isRecent($0, now: now) } ?? false,
        "events[\(index)].usage_time",
        "is required, not in the future and at most 30 days old"
      )
      if keyOK, let workspace, let quantity, let time {
        events.append(
          UsageEvent(
            idempotencyKey: event.idempotencyKey,
            workspaceID: workspace,
            billingItem: event.billingItem,
            quantity: quantity,
            usageTime: time
          )
        )
      }
    }
    try validation.finish()
    return try await store.recordUsage(events)
  }

  /// Rates `day` into bill lines and metering records, once; an error if the day (with its
  /// grace period) is not over yet.
  public func closeDay(_ raw: String) async throws -> DayClosing {
    let now = clock()
    guard let day = BillingDay(raw) else {
      throw ServiceError.invalid(field: "day", "must be a date as YYYY-MM-DD")
    }
    guard day.end.addingTimeInterval(Double(closingGrace.components.seconds)) <= now else {
      throw BillingError.dayNotOver(raw)
    }
    let catalog = self.catalog
    return try await store.closeDay(day, catalogVersion: catalog.version) { usage in
      try Self.rate(usage, day: day, catalog: catalog)
    }
  }

  /// Closes every day with usage whose grace period is over (the background closer's pass).
  public func closeDueDays() async throws -> [BillingDay: DayClosing] {
    let now = clock()
    let cutoff = now.addingTimeInterval(-Double(closingGrace.components.seconds))
    var closed: [BillingDay: DayClosing] = [:]
    for day in try await store.daysAwaitingClosure(endedBefore: cutoff) {
      closed[day] = try await closeDay(day.description)
    }
    return closed
  }

  /// Prices each line; cloud-settled lines are also summed per subscription and dimension
  /// into one metering record for the hour the day ends (within the marketplace's 24 hours).
  static func rate(
    _ usage: [DayUsage],
    day: BillingDay,
    catalog: PriceCatalog
  ) throws -> (
    lines: [BillLine], metering: [MeteringRecord]
  ) {
    var lines: [BillLine] = []
    var metered: [String: (subscription: String, dimension: String, units: Decimal)] = [:]
    for entry in usage {
      // Items are checked when recorded; one missing now means the catalog lost an item.
      guard let item = catalog.item(entry.billingItem) else {
        throw BillingError.unknownBillingItem(entry.billingItem)
      }
      // Usage while the subscription was suspended stays on the bill, unbilled: the
      // marketplace is not charged for it, and nobody else is either.
      let unbilled = entry.duringSuspension ? "subscription_suspended" : nil
      lines.append(
        BillLine(
          day: day.description,
          billingAccountID: entry.billingAccountID,
          workspaceID: entry.workspaceID,
          site: entry.site,
          settlement: entry.settlement,
          billingItem: item.code,
          quantity: entry.quantity,
          unitSize: item.unitSize,
          unitPriceMicros: item.unitPriceMicros,
          amountMicros: unbilled != nil
            ? 0
            : Quantity.amountMicros(
              quantity: entry.quantity,
              unitSize: item.unitSize,
              unitPriceMicros: item.unitPriceMicros
            ),
          currency: catalog.currency,
          unbilledReason: unbilled
        )
      )
      if let subscription = entry.settlement?.subscriptionID, unbilled == nil {
        let key = MeteringRecord.key(
          subscriptionID: subscription,
          dimension: item.dimension,
          hour: day.end
        )
        metered[key, default: (subscription, item.dimension, 0)].units +=
          entry.quantity / Decimal(item.unitSize)
      }
    }
    let metering = metered.sorted { $0.key < $1.key }.compactMap { key, value -> MeteringRecord? in
      let units = Quantity.units(quantity: value.units, unitSize: 1)
      guard units > 0 else { return nil }
      return MeteringRecord(
        key: key,
        subscriptionID: value.subscription,
        dimension: value.dimension,
        effectiveStartTime: day.end,
        quantity: units,
        attempts: 0
      )
    }
    return (lines, metering)
  }

  public func dailyBill(of accountID: UUID, day raw: String) async throws -> DailyBill {
    guard let day = BillingDay(raw) else {
      throw ServiceError.invalid(field: "day", "must be a date as YYYY-MM-DD")
    }
    _ = try await account(id: accountID)
    guard let bill = try await store.bills(billingAccountID: accountID, days: day...day).first
    else {
      throw BillingError.dayNotClosed(raw)
    }
    return bill
  }

  public func bills(of accountID: UUID, month raw: String) async throws -> [DailyBill] {
    guard let days = BillingDay.month(raw) else {
      throw ServiceError.invalid(field: "month", "must be a month as YYYY-MM")
    }
    _ = try await account(id: accountID)
    return try await store.bills(billingAccountID: accountID, days: days)
  }

  /// Follows a marketplace subscription's status (the gateway calls this on Suspend,
  /// Reinstate and Unsubscribe); `at` is when the marketplace made the change.
}
