public import Logging
import OTel
public import ServiceLifecycle
public import SuiteKit
import Tracing

/// Traces, when an OTLP collector is named: OpenTelemetry's exporter (swift-otel) as the
/// process's tracer, so `Traces`' spans leave the process; without one, nothing is set up and
/// spans cost nothing.
public struct TracingSettings: Sendable, Equatable {
  /// The process's `service.name` in its spans ("marketplace-gateway").
  public var serviceName: String

  /// Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`
  /// is set; nil otherwise. The exporter reads the other `OTEL_*` variables itself
  /// (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf` by default, `grpc`; `OTEL_SERVICE_NAME`,
  /// `OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, ...).
  public init?(config: ConfigReader, serviceName: String) {
    guard
      config.optional("OTEL_EXPORTER_OTLP_ENDPOINT") != nil
        || config.optional("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != nil
    else { return nil }
    self.serviceName = serviceName
  }
}

extension Telemetry {
  /// Sets the process's tracer up from `settings` and returns the exporter's service, to run
  /// first in the service group (it sends the spans, and as the group stops its services in
  /// reverse order, flushes them after everything else has stopped); none when tracing is
  /// off.
  public static func bootstrapTracing(
    _ settings: TracingSettings?,
    logger: Logger
  ) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
    guard let settings else { return [] }
    var configuration = OTel.Configuration.default
    configuration.serviceName = settings.serviceName
    configuration.logs.enabled = false
    configuration.metrics.enabled = false
    configuration.traces.exporter = .otlp
    configuration.diagnosticLogger = .custom(logger)
    // Its settings, as it read them, are not news at every start.
    configuration.diagnosticLogLevel = .warning
    let (tracer, exporter) = try OTel.makeTracingBackend(configuration: configuration)
    InstrumentationSystem.bootstrap(tracer)
    Traces.turnOn(logFields: OTel.makeLoggingMetadataProvider())
    return [.init(service: exporter)]
  }
}
