import Foundation
public import SuiteKit

/// The gRPC server's address and its explicit limits (see docs/RELIABILITY.md §1.1 and §2:
/// the transport's defaults advertise no stream limit and never age connections out).
public struct ServerSettings: Sendable {
  public var host: String
  /// 0 picks a free port; the bound port is reported through the ready file and the log.
  public var port: Int
  /// SETTINGS_MAX_CONCURRENT_STREAMS advertised to each client: the RPCs one connection may
  /// have under way, and so the work it may queue. A connection's event loop reads every ready
  /// connection, then runs all the RPCs those reads began before it reads again, so this bound
  /// times the connections in a flood is how long a newcomer's SETTINGS and first request
  /// wait. 24 by default: under h2load's 300,000 ListSites over 120 connections (release
  /// build, scripts/newcomer), a new connection's first RPC took p50 50-52 ms, max 81-86 ms,
  /// against p50 0.45-0.73 s, max 0.78-1.24 s at 256 (32: max 100-108 ms; 16: max 55-62 ms),
  /// the burst taking 3.4 s against 3.1-3.3 s. A client with more RPCs at once on one
  /// connection waits for a stream (gRPC clients queue them) or opens another connection.
  public var maxConcurrentStreams: Int
  /// Largest request message accepted; bigger ones fail with RESOURCE_EXHAUSTED.
  public var maxRequestBytes: Int
  /// Request bytes that are not yet whole messages the server holds, on one connection and
  /// in all (the suite's transport): a stream whose bytes would pass either gets
  /// RESOURCE_EXHAUSTED. Raised to `maxRequestBytes` when lower (or no message that large arrives).
  public var maxBufferedRequestBytesPerConnection: Int
  public var maxBufferedRequestBytes: Int
  /// Server pings an idle connection this often, and drops it if no answer within the timeout.
  public var keepaliveInterval: Duration
  public var keepaliveTimeout: Duration
  /// Connections with no open stream for this long are closed.
  public var maxIdleTime: Duration
  /// Connections are asked to go away after this age so load rebalances across replicas.
  public var maxConnectionAge: Duration
  /// How long in-flight RPCs get to finish once a connection is asked to go away.
  public var maxConnectionGrace: Duration
  /// A connection that has not sent the HTTP/2 preface and its SETTINGS within this is closed
  /// (the suite's transport): an unfinished handshake holds a socket and memory for nothing.
  public var handshakeTimeout: Duration
  /// A request without a deadline (`grpc-timeout`) whose bytes stop arriving for this long is
  /// ended with DEADLINE_EXCEEDED and its stream reset (the suite's transport); one with a
  /// deadline is ended at its deadline if it has not arrived whole by then.
  public var requestReadTimeout: Duration
  /// Frames of no progress (empty DATA, WINDOW_UPDATE, PING, SETTINGS, PRIORITY, RST_STREAM) a
  /// connection may send in a burst before GOAWAY (ENHANCE_YOUR_CALM); refilled at a tenth of
  /// it per second and by each frame of progress (`GlitchBudget`; the suite's transport, on
  /// either HTTP/2 layer).
  public var maxGlitches: Int
  /// A connection whose client has not taken its bytes for this long (the socket full: it
  /// sends and does not read) is closed; meanwhile it is not read (libnghttp2 transport).
  public var writeStallTimeout: Duration
  /// How long a response's bytes may wait to be written with others (fewer syscalls under
  /// load, this much latency on a lone RPC). Nil: the suite's transport writes the responses
  /// finished in one pass of the event loop together; grpc-swift's writes each at once.
  /// Measured in bench/results/grpc-changes.md.
  public var flushDelay: Duration?
  /// Nil: plaintext.
  public var tls: ServerTLS?
  /// Which HTTP/2 transport serves: the suite's own (`SuiteServerTransport`) on libnghttp2,
  /// the same on swift-nio-http2, or grpc-swift's.
  public var transport: Transport
  /// The suite's transport runs unary handlers on their connection's event loop (true), or on
  /// the concurrency pool. On the loop a lone RPC crosses no thread and the RPC benchmark
  /// serves ~10 % more; on the pool a process with one event-loop thread spreads its
  /// handlers over all cores (the activation benchmark's p99 ~60 against ~75 ms), and a
  /// handler that computes for long holds no connection's I/O up
  /// (`bench/results/grpc-changes.md`).
  public var unaryOnEventLoop: Bool
  /// Whose `x-forwarded-for` names the caller (`TRUSTED_PROXIES`; none by default).
  public var trustedProxies: TrustedProxies
  /// Web origins whose pages may call the browser protocols (Connect, gRPC-Web) across origins
  /// (`BROWSER_ORIGINS`, comma-separated; none by default). Calls without an `Origin` (other
  /// servers, `buf curl`) need no entry.
  public var browserOrigins: BrowserOrigins

  public enum Transport: String, Sendable, CaseIterable {
    case suite
    case suiteNIOHTTP2 = "suite-nio-http2"
    case grpcSwift = "grpc-swift"
  }

  public init(
    host: String = "127.0.0.1",
    port: Int = 0,
    maxConcurrentStreams: Int = 24,
    maxRequestBytes: Int = 4 << 20,
    maxBufferedRequestBytesPerConnection: Int = 16 << 20,
    maxBufferedRequestBytes: Int = 256 << 20,
    keepaliveInterval: Duration = .seconds(7200),
    keepaliveTimeout: Duration = .seconds(20),
    maxIdleTime: Duration = .seconds(1800),
    maxConnectionAge: Duration = .seconds(7200),
    maxConnectionGrace: Duration = .seconds(30),
    handshakeTimeout: Duration = .seconds(10),
    requestReadTimeout: Duration = .seconds(30),
    maxGlitches: Int = 1000,
    writeStallTimeout: Duration = .seconds(60),
    flushDelay: Duration? = nil,
    tls: ServerTLS? = nil,
    transport: Transport = .suite,
    unaryOnEventLoop: Bool = true,
    trustedProxies: TrustedProxies = .noProxies,
    browserOrigins: BrowserOrigins = .none
  ) {
    self.host = host
    self.port = port
    self.maxConcurrentStreams = maxConcurrentStreams
    self.maxRequestBytes = maxRequestBytes
    self.maxBufferedRequestBytesPerConnection = max(
      maxBufferedRequestBytesPerConnection,
      maxRequestBytes
    )
    self.maxBufferedRequestBytes = max(maxBufferedRequestBytes, maxRequestBytes)
    self.keepaliveInterval = keepaliveInterval
    self.keepaliveTimeout = keepaliveTimeout
    self.maxIdleTime = maxIdleTime
    self.maxConnectionAge = maxConnectionAge
    self.maxConnectionGrace = maxConnectionGrace
    self.handshakeTimeout = handshakeTimeout
    self.requestReadTimeout = requestReadTimeout
    self.maxGlitches = maxGlitches
    self.writeStallTimeout = writeStallTimeout
    self.flushDelay = flushDelay
    self.tls = tls
    self.transport = transport
    self.unaryOnEventLoop = unaryOnEventLoop
    self.trustedProxies = trustedProxies
    self.browserOrigins = browserOrigins
  }

  /// Reads `GRPC_HOST`, `GRPC_PORT`, the `GRPC_*` limits and `GRPC_TLS_*`, defaulting the port
  /// per service.
  public init(config: ConfigReader, defaultPort: Int) throws(ConfigError) {
    let defaults = ServerSettings()
    self.init(
      host: config.string("GRPC_HOST", default: defaults.host),
      port: try config.int("GRPC_PORT", default: defaultPort, range: 0...65535),
      maxConcurrentStreams: try config.int(
        "GRPC_MAX_CONCURRENT_STREAMS",
        default: defaults.maxConcurrentStreams,
        range: 1...65536
      ),
      maxRequestBytes: try config.int(
        "GRPC_MAX_REQUEST_BYTES",
        default: defaults.maxRequestBytes,
        range: 1024...(64 << 20)
      ),
      maxBufferedRequestBytesPerConnection: try config.int(
        "GRPC_MAX_BUFFERED_REQUEST_BYTES_PER_CONNECTION",
        default: defaults.maxBufferedRequestBytesPerConnection,
        range: 1024...(1 << 30)
      ),
      maxBufferedRequestBytes: try config.int(
        "GRPC_MAX_BUFFERED_REQUEST_BYTES",
        default: defaults.maxBufferedRequestBytes,
        range: 1024...(16 << 30)
      ),
      keepaliveInterval: try config.seconds(
        "GRPC_KEEPALIVE_SECONDS",
        default: defaults.keepaliveInterval,
        range: 1...86400
      ),
      keepaliveTimeout: try config.seconds(
        "GRPC_KEEPALIVE_TIMEOUT_SECONDS",
        default: defaults.keepaliveTimeout,
        range: 1...3600
      ),
      maxIdleTime: try config.seconds(
        "GRPC_MAX_IDLE_SECONDS",
        default: defaults.maxIdleTime,
        range: 1...86400
      ),
      maxConnectionAge: try config.seconds(
        "GRPC_MAX_CONNECTION_AGE_SECONDS",
        default: defaults.maxConnectionAge,
        range: 1...604800
      ),
      maxConnectionGrace: try config.seconds(
        "GRPC_MAX_CONNECTION_GRACE_SECONDS",
        default: defaults.maxConnectionGrace,
        range: 0...3600
      ),
      handshakeTimeout: try config.seconds(
        "GRPC_HANDSHAKE_TIMEOUT_SECONDS",
        default: defaults.handshakeTimeout,
        range: 1...600
      ),
      requestReadTimeout: try config.seconds(
        "GRPC_REQUEST_READ_TIMEOUT_SECONDS",
        default: defaults.requestReadTimeout,
        range: 1...3600
      ),
      maxGlitches: try config.int(
        "GRPC_MAX_GLITCHES",
        default: defaults.maxGlitches,
        range: 10...1_000_000
      ),
      writeStallTimeout: try config.seconds(
        "GRPC_WRITE_STALL_TIMEOUT_SECONDS",
        default: defaults.writeStallTimeout,
        range: 1...3600
      ),
      flushDelay: try Self.flushDelay(config),
      tls: try ServerTLS(config: config),
      transport: try Self.transport(config),
      unaryOnEventLoop: try config.bool(
        "GRPC_UNARY_ON_EVENT_LOOP",
        default: defaults.unaryOnEventLoop
      ),
      trustedProxies: try config.optional("TRUSTED_PROXIES").map { text throws(ConfigError) in
        try TrustedProxies(text)
      } ?? .noProxies,
      browserOrigins: try Self.browserOrigins(config)
    )
  }

  /// `BROWSER_ORIGINS`: "http://localhost:7180,https://activate.example.com".
  private static func browserOrigins(_ config: ConfigReader) throws(ConfigError) -> BrowserOrigins {
    guard let text = config.optional("BROWSER_ORIGINS") else { return .none }
    let origins = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
    for origin in origins
    where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) || origin == "*" {
      throw .invalid(
        variable: "BROWSER_ORIGINS",
        value: origin,
        expected: "origins such as https://activate.example.com, separated by commas"
      )
    }
    return BrowserOrigins(origins)
  }

  /// `GRPC_FLUSH_DELAY_MICROSECONDS`: default 0 (see `flushDelay`).
  private static func flushDelay(_ config: ConfigReader) throws(ConfigError) -> Duration? {
    let microseconds = try config.int(
      "GRPC_FLUSH_DELAY_MICROSECONDS",
      default: 0,
      range: 0...10_000
    )
    return microseconds == 0 ? nil : .microseconds(microseconds)
  }

  /// `GRPC_SERVER_TRANSPORT`: `suite` (default), `suite-nio-http2` or `grpc-swift`.
  private static func transport(_ config: ConfigReader) throws(ConfigError) -> Transport {
    let name = config.string("GRPC_SERVER_TRANSPORT", default: Transport.suite.rawValue)
    guard let transport = Transport(rawValue: name) else {
      throw .invalid(
        variable: "GRPC_SERVER_TRANSPORT",
        value: name,
        expected: Transport.allCases.map(\.rawValue).joined(separator: " or ")
      )
    }
    return transport
  }
}
