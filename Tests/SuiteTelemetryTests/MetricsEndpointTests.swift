import Foundation
import Logging
import Prometheus
import ServiceLifecycle
import SuiteTesting
import Synchronization
import Testing

@testable import SuiteTelemetry

/// The operator port's `/metrics`: what it serves, what it refuses, and that a slow reading
/// delays a scrape without hanging it.
@Suite("Metrics endpoint")
struct MetricsEndpointTests {
  @Test("every metric the endpoint knows gets its help line; one with help keeps it")
  func helpLines() {
    let text = MetricCatalogue.withHelp(
      """
      # TYPE grpc_server_started_total counter
      grpc_server_started_total{grpc_service="a.B",grpc_method="C"} 1
      # HELP custom_total Given by its maker.
      # TYPE custom_total counter
      custom_total 2
      # TYPE unknown_total counter
      unknown_total 3

      """
    )
    #expect(
      text == """
        # HELP grpc_server_started_total RPCs started on the server, by service and method.
        # TYPE grpc_server_started_total counter
        grpc_server_started_total{grpc_service="a.B",grpc_method="C"} 1
        # HELP custom_total Given by its maker.
        # TYPE custom_total counter
        custom_total 2
        # TYPE unknown_total counter
        unknown_total 3

        """
    )
  }

  @Test("/proc/self/stat is read past a command name holding spaces and parentheses")
  func processFigures() throws {
    let stat =
      "4242 (work (er) 1) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 9 0 5000 123456789 2048 18446744073709551615"
    let reading = try #require(
      ProcessFigures.parse(
        stat: stat,
        openFileDescriptors: 17,
        maxFileDescriptors: 1024,
        bootTime: 1_700_000_000,
        ticksPerSecond: 100,
        pageSize: 4096
      )
    )
    #expect(reading.cpuSeconds == 4)
    #expect(reading.residentBytes == 2048 * 4096)
    #expect(reading.virtualBytes == 123_456_789)
    #expect(reading.startTimeSeconds == 1_700_000_050)
    #expect(
      ProcessFigures.parse(
        stat: "garbage",
        openFileDescriptors: 0,
        maxFileDescriptors: nil,
        bootTime: 0,
        ticksPerSecond: 100,
        pageSize: 4096
      ) == nil
    )
    // This process's own figures, as a scrape gives them.
    let own = try #require(ProcessFigures.read())
    #expect(own.residentBytes > 0 && own.openFileDescriptors > 0)
  }

  @Test("GET /metrics answers the exposition; other paths 404, other methods 405")
  func serves() async throws {
    let registry = PrometheusCollectorRegistry()
    registry.makeCounter(name: "grpc_server_started_total", labels: [("grpc_method", "Call")])
      .increment(by: Int64(3))
    let readings = ReadingCount()
    let endpoint = MetricsEndpoint(
      settings: MetricsSettings(host: "127.0.0.1", port: 0),
      registry: registry,
      logger: .init(label: "test")
    ).whenScraped { readings.add() }
    try await Self.running(endpoint) { port in
      let body = try await Command.run(
        "/usr/bin/curl",
        ["-sS", "--fail", "http://127.0.0.1:\(port)/metrics"]
      )
      #expect(body.status == 0)
      #expect(body.output.contains("# HELP grpc_server_started_total "))
      #expect(body.output.contains(#"grpc_server_started_total{grpc_method="Call"} 3"#))
      #expect(body.output.contains("\nprocess_open_fds "))
      #expect(readings.value == 1)
      let type = try await Command.run(
        "/usr/bin/curl",
        ["-sS", "-o", "/dev/null", "-w", "%{content_type}", "http://127.0.0.1:\(port)/metrics"]
      )
      #expect(type.output == "text/plain; version=0.0.4; charset=utf-8")
      let missing = try await Command.run(
        "/usr/bin/curl",
        ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/other"]
      )
      #expect(missing.output == "404")
      let posted = try await Command.run(
        "/usr/bin/curl",
        [
          "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
          "http://127.0.0.1:\(port)/metrics",
        ]
      )
      #expect(posted.output == "405")
    }
  }

  @Test("a reading that never ends delays the scrape by its time limit, not forever")
  func stuckReading() async throws {
    let endpoint = MetricsEndpoint(
      settings: MetricsSettings(host: "127.0.0.1", port: 0),
      registry: PrometheusCollectorRegistry(),
      readingTimeout: .milliseconds(200),
      logger: .init(label: "test")
    ).whenScraped { try await Task.sleep(for: .seconds(3600)) }
    try await Self.running(endpoint) { port in
      let body = try await Command.run(
        "/usr/bin/curl",
        ["-sS", "--fail", "http://127.0.0.1:\(port)/metrics"]
      )
      #expect(body.status == 0)
      #expect(body.output.contains("process_resident_memory_bytes"))
    }
  }

  /// Runs `endpoint` in a service group until `body` is done with its port.
  static func running(
    _ endpoint: MetricsEndpoint,
    _ body: @Sendable (Int) async throws -> Void
  ) async throws {
    let group = ServiceGroup(
      configuration: .init(services: [endpoint], logger: .init(label: "test"))
    )
    try await withThrowingTaskGroup(of: Void.self) { tasks in
      tasks.addTask { try await group.run() }
      do {
        let port = try #require(await endpoint.listeningPort)
        try await body(port)
      } catch {
        await group.triggerGracefulShutdown()
        throw error
      }
      await group.triggerGracefulShutdown()
      try await tasks.waitForAll()
    }
  }
}

/// A count a reading's closure can bump from any task.
final class ReadingCount: Sendable {
  private let count = Mutex(0)
  func add() { count.withLock { $0 += 1 } }
  var value: Int { count.withLock { $0 } }
}

@Suite("Metrics documentation")
struct MetricDocumentationTests {
  @Test("the README's Operating the suite section names every metric the suite exports")
  func readme() throws {
    let readme = try String(
      contentsOfFile: ProjectPython.packageFile("README.md"),
      encoding: .utf8
    )
    let section = try #require(
      readme.range(of: "## Operating the suite").map { readme[$0.lowerBound...] }
    )
    for name in MetricCatalogue.help.keys.sorted() {
      #expect(section.contains("`\(name)`"), "README does not document \(name)")
    }
  }
}
