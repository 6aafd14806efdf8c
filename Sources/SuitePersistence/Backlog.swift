import Metrics
import PostgresNIO

/// Work rows still waiting in a table (an outbox, sagas, operations), read when metrics are
/// scraped rather than sampled between scrapes: how many, and how long the oldest has waited.
/// Each table's `pending` condition is the one its partial index covers, so the count reads
/// that index only.
public struct Backlog: Sendable {
  private let statement: String
  private let countMetric: String
  private let ageMetric: String

  /// - Parameters:
  ///   - table, pending, since: the table, the condition of a row still to be worked on, and
  ///     the column of when it arrived (constants of the code, never input).
  ///   - countMetric, ageMetric: the gauges' names (`MetricCatalogue`).
  public init(
    table: StaticString,
    pending: StaticString,
    since: StaticString,
    countMetric: String,
    ageMetric: String
  ) {
    statement = """
      SELECT count(*)::int8, COALESCE(EXTRACT(EPOCH FROM now() - min(\(since))), 0)::float8
      FROM \(table) WHERE \(pending)
      """
    self.countMetric = countMetric
    self.ageMetric = ageMetric
  }

  public static let mailOutbox = Backlog(
    table: "mail_outbox",
    pending: "sent_at IS NULL",
    since: "created_at",
    countMetric: "mail_outbox_pending",
    ageMetric: "mail_outbox_oldest_pending_seconds"
  )

  /// Reads the backlog from `database` into its gauges (made here, at scrape time, so none
  /// is made before the process's metrics system is set up, which would record nowhere).
  public func read(from database: Database) async throws {
    let rows = try await database.query(PostgresQuery(unsafeSQL: statement))
    for try await (pending, oldest) in rows.decode((Int64, Double).self) {
      Gauge(label: countMetric).record(pending)
      Gauge(label: ageMetric).record(oldest)
    }
  }
}
