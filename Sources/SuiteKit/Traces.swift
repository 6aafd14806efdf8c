public import Logging
import Synchronization
import Tracing

/// Spans of the work the suite does for a request: one per RPC served and per RPC made to
/// another service (W3C `traceparent` carried in the metadata), per SQL statement and per
/// marketplace call, so one activation reads as one trace across the gateway, billing-center
/// and workspace-console. Spans go to the tracer the process set up (`SuiteTelemetry`'s OTLP
/// exporter, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set); until then every helper here only
/// runs its body, so a process without tracing pays one relaxed load per RPC. The spans of
/// RPCs are SuiteRPC's (`Traces+RPC.swift`); those of statements are here, for
/// SuitePersistence.
public enum Traces {
  private static let on = Atomic<Bool>(false)
  private static let logFields = Mutex<Logger.MetadataProvider?>(nil)

  /// Whether a tracer is set up.
  public static var areOn: Bool { on.load(ordering: .relaxed) }

  /// Called once the process's tracer is bootstrapped (`InstrumentationSystem`); `logFields`
  /// adds the current span's trace and span ids to every log line.
  public static func turnOn(logFields provider: Logger.MetadataProvider?) {
    logFields.withLock { $0 = provider }
    on.store(true, ordering: .relaxed)
  }

  /// The trace fields of the current span, for log lines (empty without tracing).
  static var currentLogFields: Logger.Metadata {
    guard areOn, let provider = logFields.withLock({ $0 }) else { return [:] }
    return provider.get()
  }

  /// `body` as a client span of the database (`postgresql`): `statement` is the SQL sent.
  public static func statement<Output>(
    _ statement: @autoclosure () -> String,
    _ body: () async throws -> Output
  ) async rethrows -> Output {
    guard areOn else { return try await body() }
    let sql = statement()
    let operation = sql.prefix { $0.isLetter }.uppercased()
    return try await withSpan(operation.isEmpty ? "SQL" : operation, ofKind: .client) { span in
      span.attributes["db.system.name"] = "postgresql"
      span.attributes["db.query.text"] = String(sql.prefix(2048))
      do {
        return try await body()
      } catch {
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error))
        throw error
      }
    }
  }
}
