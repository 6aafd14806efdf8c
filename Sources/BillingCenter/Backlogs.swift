public import SuitePersistence

extension Backlog {
  /// Closed days' metering records the marketplace has not accepted yet.
  public static let meteringRecords = Backlog(
    table: "metering_records",
    pending: "status = 'pending'",
    since: "created_at",
    countMetric: "metering_records_pending",
    ageMetric: "metering_record_oldest_pending_seconds"
  )
}
