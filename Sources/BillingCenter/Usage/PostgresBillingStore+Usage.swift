import AccountAccess
public import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Usage and bills: recorded events, days closed once, daily bills.
extension PostgresBillingStore {
  /// Records a batch. Most batches are new usage: their events (each key's first) are copied
  /// into the ledger (`COPY`, at a fraction of an INSERT's cost to the server). When the ledger
  /// has any of their keys, a batch sent again or a key another batch records meanwhile, the
  /// copy fails on that key and the batch is inserted again row by row, each new key once.
  /// Either way in one transaction under the days' shared locks.
  public func recordUsage(_ events: [UsageEvent]) async throws -> [UsageResult] {
    let days = Array(Set(events.map { BillingDay(containing: $0.usageTime).ordinal }))
    // A key repeated inside one batch is accepted once; its other copies are duplicates.
    var seen = Set<String>(minimumCapacity: events.count)
    let isFirst = events.map { seen.insert($0.idempotencyKey).inserted }
    let firsts = events.indices.filter { isFirst[$0] }.map { events[$0] }
    let isNew: (String) -> Bool
    do {
      try await copyUsage(firsts, days: days)
      isNew = { _ in true }
    } catch let error as PSQLError where error.isUniqueViolation {
      let inserted = try await insertNewUsage(firsts, days: days)
      isNew = { inserted.contains($0) }
    }
    return events.indices.map {
      isFirst[$0] && isNew(events[$0].idempotencyKey) ? .accepted : .duplicate
    }
  }

  /// Copies `events` (one event a key) into the ledger; fails on the first key it has.
  private func copyUsage(_ events: [UsageEvent], days: [Int]) async throws {
    let logger = self.logger
    var rows = CopyRows(capacity: events.count * 128)
    for event in events {
      rows.append(event.idempotencyKey)
      rows.append(event.workspaceID)
      rows.append(event.billingItem)
      rows.append(event.quantity.text)
      rows.append(event.usageTime)
      rows.endRow()
    }
    let copy = rows.buffer
    try await database.transaction { connection in
      try await Self.lockOpenDays(days, on: connection, logger: logger)
      try await connection.copyFrom(
        table: "usage_events",
        columns: ["idempotency_key", "workspace_id", "billing_item", "quantity", "usage_time"],
        logger: logger
      ) { writer in
        try await writer.write(copy)
      }
    }
  }

  /// The same, row by row: a key another batch recorded meanwhile is skipped, not refused.
  private func insertNewUsage(_ events: [UsageEvent], days: [Int]) async throws -> Set<String> {
    let logger = self.logger
    return try await database.transaction { connection in
      try await Self.lockOpenDays(days, on: connection, logger: logger)
      let rows = try await connection.execute(
        """
        INSERT INTO usage_events (idempotency_key, workspace_id, billing_item, quantity, usage_time)
        SELECT k, w, i, q::numeric, t
        FROM unnest(\(events.map(\.idempotencyKey))::text[], \(events.map(\.workspaceID))::uuid[],
                    \(events.map(\.billingItem))::text[], \(events.map(\.quantity.text))::text[],
                    \(events.map(\.usageTime))::timestamptz[]) AS e(k, w, i, q, t)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING idempotency_key
        """,
        logger: logger
      )
      var keys: Set<String> = []
      for try await key in rows.decode(String.self) { keys.insert(key) }
      return keys
    }
  }

  /// Takes the shared locks of `days` and refuses a batch with a closed day. Closing a day takes
  /// its exclusive lock, so no event can slip into a day while it is being rated, and none is
  /// accepted for a day already closed.
  private static func lockOpenDays(
    _ days: [Int],
    on connection: PostgresConnection,
    logger: Logger
  ) async throws {
    try await connection.execute(
      "SELECT pg_advisory_xact_lock_shared(\(dayLockClass), d) FROM unnest(\(days)::int[]) AS d",
      logger: logger
    )
    let closed = try await connection.execute(
      """
      SELECT day::text FROM closed_days
      WHERE day = ANY(ARRAY(SELECT DATE '1970-01-01' + d FROM unnest(\(days)::int[]) AS d))
      """,
      logger: logger
    )
    for try await day in closed.decode(String.self) { throw BillingError.dayClosed(day) }
  }

  /// The advisory lock class of billing days (with the day's ordinal as the key).
  static let dayLockClass: Int32 = 0x4249_4C4C

  // MARK: Bills

  public func closeDay(
    _ day: BillingDay,
    catalogVersion: String,
    rate: @Sendable ([DayUsage]) throws -> (lines: [BillLine], metering: [MeteringRecord])
  ) async throws -> DayClosing {
    let logger = self.logger
    return try await database.transaction { connection in
      try await connection.execute(
        "SELECT pg_advisory_xact_lock(\(Self.dayLockClass), \(Int32(day.ordinal)))",
        logger: logger
      )
      let claimed = try await connection.execute(
        """
        INSERT INTO closed_days (day, catalog_version) VALUES (\(day.description)::date, \(catalogVersion))
        ON CONFLICT (day) DO NOTHING RETURNING day
        """,
        logger: logger
      )
      var isNew = false
      for try await _ in claimed { isNew = true }
      guard isNew else { return DayClosing(closedNow: false, billLines: 0, meteringRecords: 0) }

      let rows = try await connection.execute(
        """
        SELECT b.billing_account_id, e.workspace_id, COALESCE(b.site, ''), b.settlement,
               b.marketplace_subscription_id, e.billing_item,
               EXISTS (SELECT 1 FROM subscription_suspensions s
                       WHERE s.marketplace_subscription_id = b.marketplace_subscription_id
                         AND e.usage_time >= s.suspended_from
                         AND (s.suspended_until IS NULL OR e.usage_time < s.suspended_until)),
               sum(e.quantity)
        FROM usage_events e
        LEFT JOIN workspace_bindings b ON b.workspace_id = e.workspace_id
          AND e.usage_time >= b.valid_from AND (b.valid_to IS NULL OR e.usage_time < b.valid_to)
        WHERE e.usage_time >= \(day.start) AND e.usage_time < \(day.end)
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 2, 6, 7
        """,
        logger: logger
      )
      var usage: [DayUsage] = []
      for try await (account, workspace, site, method, subscription, item, suspended, quantity)
        in rows.decode((UUID?, UUID, String, String?, String?, String, Bool, Decimal).self)
      {
        usage.append(
          DayUsage(
            billingAccountID: account,
            workspaceID: workspace,
            site: site,
            settlement: method.flatMap { Settlement(method: $0, subscriptionID: subscription) },
            billingItem: item,
            quantity: quantity,
            duringSuspension: suspended
          )
        )
      }
      let (lines, metering) = try rate(usage)
      for line in lines {
        try await connection.execute(
          """
          INSERT INTO daily_bill_lines (day, billing_account_id, workspace_id, site, settlement,
            marketplace_subscription_id, billing_item, quantity, unit_size, unit_price_micros,
            amount_micros, currency, unbilled_reason)
          VALUES (\(day.description)::date, \(line.billingAccountID), \(line.workspaceID), \(line.site),
            \(line.settlement?.method), \(line.settlement?.subscriptionID), \(line.billingItem),
            \(line.quantity), \(line.unitSize), \(line.unitPriceMicros), \(line.amountMicros), \(line.currency),
            \(line.unbilledReason))
          """,
          logger: logger
        )
      }
      for record in metering {
        try await connection.execute(
          """
          INSERT INTO metering_records (key, day, marketplace_subscription_id, dimension,
            effective_start_time, quantity)
          VALUES (\(record.key), \(day.description)::date, \(record.subscriptionID), \(record.dimension),
            \(record.effectiveStartTime), \(record.quantity))
          """,
          logger: logger
        )
      }
      return DayClosing(closedNow: true, billLines: lines.count, meteringRecords: metering.count)
    }
  }

  public func daysAwaitingClosure(endedBefore cutoff: Date) async throws -> [BillingDay] {
    let lookBack = GuanceBilling.maxUsageAge + 86400
    let rows = try await database.execute(
      """
      SELECT DISTINCT floor(EXTRACT(EPOCH FROM e.usage_time) / 86400)::int AS day
      FROM usage_events e
      WHERE e.usage_time >= \(cutoff.addingTimeInterval(-lookBack)) AND e.usage_time < \(cutoff)
        AND NOT EXISTS (
          SELECT 1 FROM closed_days c WHERE c.day = DATE '1970-01-01' + floor(EXTRACT(EPOCH FROM e.usage_time) / 86400)::int)
      ORDER BY day
      """
    )
    var days: [BillingDay] = []
    for try await ordinal in rows.decode(Int.self) {
      let day = BillingDay(ordinal: ordinal)
      if day.end <= cutoff { days.append(day) }
    }
    return days
  }

  public func bills(
    billingAccountID: UUID,
    days: ClosedRange<BillingDay>
  ) async throws -> [DailyBill] {
    let rows = try await database.execute(
      """
      SELECT d.day::text, d.catalog_version, l.workspace_id, l.site, l.settlement,
             l.marketplace_subscription_id, l.billing_item, l.quantity, l.unit_size,
             l.unit_price_micros, l.amount_micros, l.currency, l.unbilled_reason
      FROM closed_days d
      LEFT JOIN daily_bill_lines l ON l.day = d.day AND l.billing_account_id = \(billingAccountID)
      WHERE d.day BETWEEN \(days.lowerBound.description)::date AND \(days.upperBound.description)::date
      ORDER BY d.day, l.workspace_id, l.billing_item, l.settlement
      """
    )
    var bills: [DailyBill] = []
    for try await row in rows.decode(
      (
        String, String, UUID?, String?, String?, String?, String?, Decimal?, Int64?, Int64?, Int64?,
        String?, String?
      ).self
    ) {
      if bills.last?.day != row.0 {
        bills.append(DailyBill(day: row.0, lines: [], catalogVersion: row.1))
      }
      guard let workspace = row.2, let site = row.3, let item = row.6, let quantity = row.7,
        let unitSize = row.8, let price = row.9, let amount = row.10, let currency = row.11
      else { continue }
      bills[bills.count - 1].lines.append(
        BillLine(
          day: row.0,
          billingAccountID: billingAccountID,
          workspaceID: workspace,
          site: site,
          settlement: row.4.flatMap { Settlement(method: $0, subscriptionID: row.5) },
          billingItem: item,
          quantity: quantity,
          unitSize: unitSize,
          unitPriceMicros: price,
          amountMicros: amount,
          currency: currency,
          unbilledReason: row.12
        )
      )
    }
    return bills
  }
}
