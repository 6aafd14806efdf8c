public import SuiteKit

/// Where a process serves its metrics: an operator port of its own, never the public one, so
/// a firewall or a Kubernetes NetworkPolicy can keep `/metrics` to the scraper.
public struct MetricsSettings: Sendable, Equatable {
  public var host: String
  /// 0: a free port (tests). The port it got is in `MetricsEndpoint.listeningPort`.
  public var port: Int
  /// Where to write `host:port` once listening (`READY_FILE` + ".metrics", beside the gRPC
  /// ready file), for whoever started the process.
  public var readyFile: String?

  public init(host: String, port: Int, readyFile: String? = nil) {
    self.host = host
    self.port = port
    self.readyFile = readyFile
  }

  /// `METRICS_HOST` (default `defaultHost`, the host of the service's own listener) and
  /// `METRICS_PORT` (default `defaultPort`); `METRICS_PORT=off` serves no metrics at all (nil).
  public init?(
    config: ConfigReader,
    defaultHost: String,
    defaultPort: Int
  ) throws(ConfigError) {
    if config.optional("METRICS_PORT")?.lowercased() == "off" { return nil }
    self.init(
      host: config.string("METRICS_HOST", default: defaultHost),
      port: try config.int("METRICS_PORT", default: defaultPort, range: 0...65535),
      readyFile: config.optional("READY_FILE").map { $0 + ".metrics" }
    )
  }
}
