public import GRPCCore
public import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
public import NIOSSL
import SuiteKit
import Synchronization

/// The suite's gRPC server transport: GRPCCore's `ServerTransport` directly on one HTTP/2
/// codec per connection (libnghttp2's, `NGHTTP2ServerCodec`, or swift-nio-http2's
/// `NIOHTTP2Handler` with `GRPC_SERVER_TRANSPORT=suite-nio-http2`). grpc-swift's own transport
/// gives every RPC an HTTP/2 child channel with its own pipeline and an async-channel bridge;
/// here a stream is an entry in its connection's table, its requests a `HandoffQueue` fed
/// from the event loop and its responses posted to the connection's outbox, written by the
/// loop and flushed once per pass of the loop for all the streams that answered in it. The
/// activation benchmark spends 13 % less CPU per activation with it (billing-center 28 %
/// less); `bench/results/grpc-changes.md`.
///
/// Kept from grpc-swift's transport: TLS (mutual when asked), the limits (message size,
/// concurrent streams), keepalive pings, idle and age limits, graceful shutdown (GOAWAY, then
/// the open RPCs finish), cancellation by RST_STREAM or a lost connection. Requests compressed
/// with gzip or deflate are read (inflated no larger than the message limit); replies go
/// uncompressed. Streaming RPCs go to GRPCCore's server (its executor, deadlines and
/// interceptors); the methods given as unary routes are answered by their routes, on their
/// connection's event loop (`UnaryRoute`, `UnaryCall`; SuiteRPC's routes keep the same
/// interceptors' behaviour).
public final class SuiteServerTransport: ServerTransport, Sendable {
  public typealias Bytes = MessageBytes
  /// An RPC as the event loop hands it to the listening task.
  enum Accepted: Sendable {
    /// For GRPCCore's server (streaming methods, and unary ones not in `unaryRoutes`).
    case stream(RPCStream<Inbound, Outbound>, ServerContext)
    /// A connection's unary RPCs (those of `unaryRoutes`), for a task of their own, on the
    /// connection's event loop when it is given.
    case unaryCalls(HandoffQueue<UnaryCall>, EventLoopTaskExecutor?)
  }

  private let settings: ServerSettings
  private let unaryRoutes: UnaryRoutes
  private let browserServices: Set<String>
  private let tls: NIOSSLContext?
  private let connections = Connections()
  /// Request bytes not yet whole messages, across its connections.
  private let requestBuffer: RequestBuffer
  /// Where it listens (or why it could not), and who waits to know.
  private let listening = Mutex<
    (
      bound: Result<SocketAddress, any Error>?,
      waiters: [CheckedContinuation<SocketAddress, any Error>]
    )
  >(
    (nil, [])
  )

  /// The methods of `unaryRoutes` are answered by their routes, every other method by
  /// GRPCCore's server through `listen`'s stream handler. The unary methods of
  /// `browserServices` (full names, "package.Service") are answered to browsers too: Connect
  /// and gRPC-Web, over HTTP/2 and HTTP/1.1, by the same routes
  /// (`ServerSettings.browserOrigins` says which pages may read the answers).
  public init(
    settings: ServerSettings,
    unaryRoutes: UnaryRoutes,
    browserServices: Set<String> = []
  ) throws {
    self.settings = settings
    self.unaryRoutes = unaryRoutes
    self.browserServices = browserServices
    self.requestBuffer = RequestBuffer(limit: settings.maxBufferedRequestBytes)
    // HTTP/1.1 offered after h2: gRPC clients ask for h2 only, and get it.
    self.tls = try settings.tls.map {
      try NIOSSLContext(
        configuration: $0.nioConfiguration(applicationProtocols: ["h2", "http/1.1"])
      )
    }
  }

  /// Where it listens, once it does.
  public var listeningAddress: SocketAddress {
    get async throws {
      try await withCheckedThrowingContinuation { continuation in
        let known = listening.withLock { state -> Result<SocketAddress, any Error>? in
          if state.bound == nil { state.waiters.append(continuation) }
          return state.bound
        }
        if let known { continuation.resume(with: known) }
      }
    }
  }

  public func listen(
    streamHandler: @escaping @Sendable (RPCStream<Inbound, Outbound>, ServerContext) async -> Void
  ) async throws {
    let accepted = HandoffQueue<Accepted>()
    connections.acceptor = accepted
    let server: any Channel
    do {
      server = try await bootstrap(acceptor: accepted).bind(
        host: settings.host,
        port: settings.port
      ).get()
    } catch {
      bound(.failure(error))
      throw error
    }
    connections.server(server)
    bound(
      .success(
        try server.localAddress ?? SocketAddress(ipAddress: settings.host, port: settings.port)
      )
    )

    await withTaskCancellationHandler {
      await withDiscardingTaskGroup { group in
        // The queue ends without an error: once drained, or when this task is cancelled.
        while let rpc = try? await accepted.next() {
          switch rpc {
          case .stream(let stream, let context):
            group.addTask { await streamHandler(stream, context) }
          case .unaryCalls(let calls, let loop):
            group.addTask { await UnaryCall.serve(calls, on: loop) }
          }
        }
      }
    } onCancel: {
      connections.closeAll()
    }
  }

  public func beginGracefulShutdown() {
    connections.drain()
  }

  private func bound(_ result: Result<SocketAddress, any Error>) {
    let waiters = listening.withLock { state in
      state.bound = result
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume(with: result) }
  }

  /// SETTINGS_MAX_HEADER_LIST_SIZE: request headers beyond it are refused.
  private static let maxHeaderListSize = 16 * 1024

  private func bootstrap(acceptor: HandoffQueue<Accepted>) -> ServerBootstrap {
    let settings = self.settings
    let tls = self.tls
    let connections = self.connections
    let unaryRoutes = self.unaryRoutes
    let browserServices = self.browserServices
    let requestBuffer = self.requestBuffer
    let http2Settings = [
      HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
      HTTP2Setting(parameter: .maxHeaderListSize, value: Self.maxHeaderListSize),
      HTTP2Setting(parameter: .initialWindowSize, value: SuiteConnectionHandler.streamWindow),
    ]
    let codecSettings = NGHTTP2ServerCodec.Settings(
      maxConcurrentStreams: settings.maxConcurrentStreams,
      maxHeaderListSize: Self.maxHeaderListSize,
      initialWindowSize: SuiteConnectionHandler.streamWindow,
      maxGlitches: settings.maxGlitches,
      writeStallTimeout: settings.writeStallTimeout
    )
    return ServerBootstrap(group: NIOSingletons.posixEventLoopGroup)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let sync = channel.pipeline.syncOperations
          if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
          let sniffer = HTTPVersionSniffer(timeout: .init(settings.handshakeTimeout)) {
            pipeline,
            http2 in
            var handlers: [any ChannelHandler] = []
            if !http2 {
              handlers += [
                HTTPResponseEncoder(),
                ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
                HTTPServerPipelineHandler(),
                HTTPServerProtocolErrorHandler(),
                HTTP1Frames(),
              ]
            } else if settings.transport == .suiteNIOHTTP2 {
              handlers += [
                NIOHTTP2Handler(mode: .server, initialSettings: http2Settings),
                GlitchCounter(maxGlitches: settings.maxGlitches),
              ]
            } else {
              handlers.append(NGHTTP2ServerCodec(settings: codecSettings))
            }
            let handler = SuiteConnectionHandler(
              settings: settings,
              unaryRoutes: unaryRoutes,
              browserServices: browserServices,
              overHTTP1: !http2,
              requestBuffer: requestBuffer,
              acceptor: acceptor
            )
            handlers.append(handler)
            try pipeline.addHandlers(handlers, position: .last)
            connections.add(channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
          }
          try sync.addHandler(sniffer)
        }
      }
  }
}

/// The listening channel and the open connections, for draining and closing them.
private final class Connections: Sendable {
  private struct State {
    var server: (any Channel)?
    var open: [ObjectIdentifier: (any Channel, NIOLoopBound<SuiteConnectionHandler>)] = [:]
    var draining = false
    var acceptor: HandoffQueue<SuiteServerTransport.Accepted>?
  }

  private let state = Mutex(State())

  var acceptor: HandoffQueue<SuiteServerTransport.Accepted>? {
    get { state.withLock { $0.acceptor } }
    set { state.withLock { $0.acceptor = newValue } }
  }

  func server(_ channel: any Channel) {
    let draining = state.withLock { state in
      state.server = channel
      return state.draining
    }
    if draining { drain() }
  }

  func add(_ channel: any Channel, handler: NIOLoopBound<SuiteConnectionHandler>) {
    let id = ObjectIdentifier(channel)
    let draining = state.withLock { state in
      state.open[id] = (channel, handler)
      return state.draining
    }
    if draining { channel.eventLoop.execute { handler.value.drain() } }
    channel.closeFuture.whenComplete { [self] _ in
      state.withLock { _ = $0.open.removeValue(forKey: id) }
      finishIfDrained()
    }
  }

  /// Stops accepting connections and asks each open one to finish its RPCs and close.
  func drain() {
    for (channel, handler) in stopAccepting() {
      channel.eventLoop.execute { handler.value.drain() }
    }
    finishIfDrained()
  }

  func closeAll() {
    for (channel, _) in stopAccepting() { channel.close(promise: nil) }
    finishIfDrained()
  }

  /// Marks the transport as draining, closes the listening channel and returns the open
  /// connections.
  private func stopAccepting() -> [(any Channel, NIOLoopBound<SuiteConnectionHandler>)] {
    let (server, open) = state.withLock { state in
      state.draining = true
      return (state.server, Array(state.open.values))
    }
    server?.close(promise: nil)
    return open
  }

  /// Once draining and every connection is closed, no stream will come: `listen` may return.
  private func finishIfDrained() {
    let acceptor = state.withLock { state -> HandoffQueue<SuiteServerTransport.Accepted>? in
      state.draining && state.open.isEmpty ? state.acceptor : nil
    }
    acceptor?.finish()
  }
}

/// Bytes of a message as received: a slice of the connection's buffer, not a copy.
public struct MessageBytes: GRPCContiguousBytes, Sendable {
  var buffer: ByteBuffer

  init(buffer: ByteBuffer) { self.buffer = buffer }
  public init(repeating byte: UInt8, count: Int) {
    buffer = ByteBuffer(repeating: byte, count: count)
  }
  public init<Bytes: Sequence>(_ sequence: Bytes) where Bytes.Element == UInt8 {
    buffer = ByteBuffer(bytes: sequence)
  }
  public var count: Int { buffer.readableBytes }

  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    try buffer.withUnsafeReadableBytes(body)
  }

  public mutating func withUnsafeMutableBytes<R>(
    _ body: (UnsafeMutableRawBufferPointer) throws -> R
  ) rethrows -> R {
    try buffer.withUnsafeMutableReadableBytes(body)
  }
}
