import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
public import ServiceLifecycle
import SuiteKit
import Synchronization

/// The operator port: `GET /metrics` in Prometheus's text format (version 0.0.4) over
/// HTTP/1.1, on its own listener (`MetricsSettings`). A scrape first runs the process's
/// readings (`whenScraped`: backlogs counted in the database, say), each bounded by
/// `readingTimeout` so a slow database delays a scrape but never hangs it.
public struct MetricsEndpoint: Service {
  /// nil: metrics are off, and the endpoint only waits for the process's shutdown.
  private let settings: MetricsSettings?
  private let registry: PrometheusCollectorRegistry
  private let readings: [@Sendable () async throws -> Void]
  private let readingTimeout: Duration
  private let logger: Logger
  private let bound = BoundPort()

  init(
    settings: MetricsSettings?,
    registry: PrometheusCollectorRegistry,
    readings: [@Sendable () async throws -> Void] = [],
    readingTimeout: Duration = .seconds(2),
    logger: Logger
  ) {
    self.settings = settings
    self.registry = registry
    self.readings = readings
    self.readingTimeout = readingTimeout
    self.logger = logger
  }

  /// The same endpoint, also running `reading` before each scrape.
  public func whenScraped(_ reading: @escaping @Sendable () async throws -> Void) -> Self {
    Self(
      settings: settings,
      registry: registry,
      readings: readings + [reading],
      readingTimeout: readingTimeout,
      logger: logger
    )
  }

  /// The port it listens on, once it does; nil when it could not listen.
  public var listeningPort: Int? {
    get async { await bound.port() }
  }

  public func run() async throws {
    guard let settings else {
      bound.set(nil)
      // A service that returns before the group stops counts as failed.
      try? await gracefulShutdown()
      return
    }
    let server:
      NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    do {
      server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: settings.host, port: settings.port) { channel in
          channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
              wrappingChannelSynchronously: channel
            )
          }
        }
    } catch {
      bound.set(nil)
      throw error
    }
    let port = server.channel.localAddress?.port ?? settings.port
    bound.set(port)
    if let readyFile = settings.readyFile {
      try ReadyFile.write(readyFile, endpoint: "\(settings.host):\(port)")
    }
    logger.notice("serving metrics", metadata: ["address": "\(settings.host):\(port)/metrics"])
    // Scrapers keep their connections open: the listener and every connection end with the
    // process's shutdown rather than being waited for.
    do {
      try await cancelWhenGracefulShutdown {
        try await withThrowingDiscardingTaskGroup { group in
          try await server.executeThenClose { connections in
            for try await connection in connections {
              group.addTask { await self.serve(connection) }
            }
          }
        }
      }
    } catch is CancellationError where Task.isShuttingDownGracefully {
      // The shutdown's own cancellation: a clean stop, not a failure of the process.
    }
  }

  private func serve(
    _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
  )
    async
  {
    try? await connection.executeThenClose { inbound, outbound in
      var request: HTTPRequestHead?
      for try await part in inbound {
        switch part {
        case .head(let head):
          request = head
        case .body:
          continue
        case .end:
          guard let head = request else { continue }
          request = nil
          let (status, body) = await answer(head)
          var headers = HTTPHeaders()
          headers.add(
            name: "content-type",
            value: status == .ok
              ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8"
          )
          headers.add(name: "content-length", value: "\(body.utf8.count)")
          if status == .methodNotAllowed { headers.add(name: "allow", value: "GET, HEAD") }
          if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
          try await outbound.write(
            .head(HTTPResponseHead(version: head.version, status: status, headers: headers))
          )
          if head.method != .HEAD {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
          }
          try await outbound.write(.end(nil))
          if !head.isKeepAlive { return }
        }
      }
    }
  }

  private func answer(_ head: HTTPRequestHead) async -> (HTTPResponseStatus, String) {
    guard head.uri == "/metrics" || head.uri.hasPrefix("/metrics?") else {
      return (.notFound, "not found: metrics are at /metrics\n")
    }
    guard head.method == .GET || head.method == .HEAD else {
      return (.methodNotAllowed, "only GET and HEAD\n")
    }
    return (.ok, await scrape())
  }

  /// The exposition: the readings run, then every metric with its help, then the process's
  /// own figures.
  func scrape() async -> String {
    await withTaskGroup(of: Void.self) { group in
      for reading in readings {
        group.addTask {
          do {
            try await withDeadline(readingTimeout) { try await reading() }
          } catch {
            logger.warning("a metrics reading failed", metadata: ["error": "\(error)"])
          }
        }
      }
    }
    var text = MetricCatalogue.withHelp(registry.emitToString())
    if let figures = ProcessFigures.read() {
      text += ProcessFigures.exposition(figures)
    }
    return text
  }
}

/// The endpoint's port, told to whoever asks once the listener is bound (or failed to be).
private final class BoundPort: Sendable {
  private let known = Mutex<Int?>(nil)
  private let gate = StartupGate()

  func set(_ port: Int?) {
    known.withLock { $0 = port }
    gate.open()
  }

  func port() async -> Int? {
    _ = await gate.wait()
    return known.withLock { $0 }
  }
}

/// `body`'s result, or a timeout error after `limit` (`body` is cancelled).
private func withDeadline<Result: Sendable>(
  _ limit: Duration,
  _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
  try await withThrowingTaskGroup(of: Result?.self) { group in
    group.addTask { try await body() }
    group.addTask {
      try await Task.sleep(for: limit)
      return nil
    }
    defer { group.cancelAll() }
    guard let first = try await group.next(), let result = first else {
      throw ReadingTimedOut(limit: limit)
    }
    return result
  }
}

struct ReadingTimedOut: Error, CustomStringConvertible {
  let limit: Duration
  var description: String { "no reading within \(limit)" }
}
