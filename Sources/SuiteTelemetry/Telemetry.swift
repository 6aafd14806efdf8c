public import Logging
import Metrics
import Prometheus

/// Sets up what operators see of a process, once, before anything records a metric: the
/// metrics system (Prometheus, in this process's memory) and the endpoint that serves it.
public enum Telemetry {
  /// Bootstraps the metrics system and returns the endpoint to run in the service group.
  /// Without settings (`METRICS_PORT=off`) metrics are recorded nowhere and the endpoint
  /// serves nothing. Metric handles made before this call record nothing: `main` calls it
  /// before it builds anything else.
  public static func bootstrap(_ settings: MetricsSettings?, logger: Logger) -> MetricsEndpoint {
    guard let settings else {
      return MetricsEndpoint(settings: nil, registry: PrometheusCollectorRegistry(), logger: logger)
    }
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    // Latencies of RPCs and statements here run from well under a millisecond to seconds.
    factory.defaultDurationHistogramBuckets = [
      .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5),
      .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
      .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
      .seconds(10),
    ]
    MetricsSystem.bootstrap(factory)
    return MetricsEndpoint(settings: settings, registry: registry, logger: logger)
  }
}
