import AccountAccess
import Foundation
import Logging
import PostgresNIO
import SuitePersistence

/// Metering records: what the marketplace is to bill, and what it answered.
extension PostgresBillingStore {
  private static let meteringColumns = """
    m.key, m.marketplace_subscription_id, m.dimension, m.effective_start_time, m.quantity, m.attempts,
    m.status, m.marketplace_status, m.last_message, m.day::text, m.updated_at
    """
  private typealias MeteringRow = (
    String, String, String, Date, Decimal, Int, String, String?, String?, String, Date
  )

  private static func meteringRecords(_ rows: Rows) async throws -> [MeteringRecord] {
    var records: [MeteringRecord] = []
    for try await row in rows.decode(MeteringRow.self) {
      guard let status = MeteringRecord.Status(rawValue: row.6) else {
        throw StoreInvariantError.unknownValue(row.6)
      }
      records.append(
        MeteringRecord(
          key: row.0,
          subscriptionID: row.1,
          dimension: row.2,
          effectiveStartTime: row.3,
          quantity: row.4,
          attempts: row.5,
          status: status,
          marketplaceStatus: row.7,
          lastMessage: row.8,
          day: row.9,
          updatedAt: row.10
        )
      )
    }
    return records
  }

  public func pendingMeteringRecords(limit: Int) async throws -> [MeteringRecord] {
    try await Self.meteringRecords(
      database.execute(
        """
        SELECT \(unescaped: Self.meteringColumns) FROM metering_records m WHERE m.status = 'pending'
        ORDER BY m.created_at, m.key LIMIT \(limit)
        """
      )
    )
  }

  public func meteringRecords(
    status: MeteringRecord.Status?,
    day: BillingDay?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  ) async throws -> [MeteringRecord] {
    try await Self.meteringRecords(
      database.execute(
        """
        SELECT \(unescaped: Self.meteringColumns) FROM metering_records m
        WHERE (\(status?.rawValue)::text IS NULL OR m.status = \(status?.rawValue))
          AND (\(day?.description)::date IS NULL OR m.day = \(day?.description)::date)
          AND (\(subscriptionID)::text IS NULL OR m.marketplace_subscription_id = \(subscriptionID))
          AND (\(afterKey)::text IS NULL OR m.key > \(afterKey))
        ORDER BY m.key LIMIT \(limit)
        """
      )
    )
  }

  /// Resubmit: rejected or parked → pending. Park: pending or rejected → parked. Repeating
  /// either changes nothing; a delivered record is refused.
  public func setDisposition(
    _ disposition: MeteringRecord.Disposition,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
  {
    let target: MeteringRecord.Status = disposition == .resubmit ? .pending : .parked
    let logger = self.logger
    return try await database.transaction { connection in
      let current = try await Self.meteringRecords(
        connection.execute(
          "SELECT \(unescaped: Self.meteringColumns) FROM metering_records m WHERE m.key = \(key) FOR UPDATE",
          logger: logger
        )
      )
      guard let record = current.first else { throw BillingError.meteringRecordNotFound(key) }
      guard !record.status.isDelivered else { throw BillingError.meteringRecordDelivered(key) }
      guard record.status != target else { return record }
      let updated = try await Self.meteringRecords(
        connection.execute(
          """
          UPDATE metering_records m SET status = \(target.rawValue), last_message = \(reason), updated_at = now()
          WHERE m.key = \(key) RETURNING \(unescaped: Self.meteringColumns)
          """,
          logger: logger
        )
      )
      guard let record = updated.first else { throw StoreInvariantError.noRowReturned }
      return record
    }
  }

  public func acknowledge(_ acknowledgements: [MeteringAcknowledgement]) async throws -> [String] {
    let logger = self.logger
    return try await database.transaction { connection in
      var unknown: [String] = []
      for ack in acknowledgements {
        // A delivered record stays delivered: a late "retry" or a replayed answer changes nothing.
        // A delivery is recorded whatever the record's status: the marketplace has billed it,
        // also when an operator parked (or it was rejected) while the call was under way.
        let status = ack.outcome == .retry ? "pending" : ack.outcome.rawValue
        let delivered = ack.outcome == .accepted || ack.outcome == .duplicate
        let answerable = delivered ? ["pending", "parked", "rejected"] : ["pending"]
        let rows = try await connection.execute(
          """
          UPDATE metering_records
          SET status = CASE WHEN status = ANY(\(answerable)) THEN \(status) ELSE status END,
              attempts = attempts + CASE WHEN status = 'pending' THEN 1 ELSE 0 END,
              marketplace_status = CASE WHEN status = ANY(\(answerable))
                THEN \(ack.marketplaceStatus) ELSE marketplace_status END,
              last_message = CASE WHEN status = 'pending' THEN \(ack.message) ELSE last_message END,
              updated_at = now()
          WHERE key = \(ack.key)
          RETURNING key
          """,
          logger: logger
        )
        var found = false
        for try await _ in rows { found = true }
        if !found { unknown.append(ack.key) }
      }
      return unknown
    }
  }
}
