import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import SuiteKit
import Synchronization

import struct Foundation.Data

/// One HTTP/2 connection's gRPC streams, on its event loop (`SuiteServerTransport`).
final class SuiteConnectionHandler: ChannelDuplexHandler {
  typealias InboundIn = HTTP2Frame
  typealias OutboundIn = Never
  typealias OutboundOut = HTTP2Frame

  /// The window each stream's client may fill before we give bytes back (we announce it).
  static let streamWindow = 1 << 20
  /// HTTP/2's initial connection window, given back once half is used.
  private static let connectionWindow = 65_535
  /// A gRPC response's leading headers, before its metadata.
  private static let okHeaders: HPACKHeaders = [
    ":status": "200", "content-type": "application/grpc",
    "grpc-accept-encoding": MessageEncoding.accepted,
  ]

  /// A method path's descriptor, its unary route if the transport answers it itself, and
  /// whether browsers may call it.
  private struct KnownMethod {
    let descriptor: MethodDescriptor
    let unary: (any UnaryRoute)?
    let browser: Bool
  }

  /// A class, not a struct: reading a struct with this many references out of the table
  /// and back copied (retained and released) each of them for every frame.
  private final class Stream {
    let inbound: HandoffQueue<RPCRequestPart<MessageBytes>>
    let cancellation: ServerContext.RPCCancellationHandle
    var pending = ByteBuffer()
    var responseHeaders: HPACKHeaders?
    var sentHeaders = false
    /// Bytes received and not yet given back to the client's window.
    var unacknowledged = 0
    /// Bytes of `pending` counted against the connection's and the process's limits.
    var buffered = 0
    /// Messages handed to the handler and not yet read, shared with its reader.
    let credit: StreamCredit
    /// The request was refused (too large, undecodable): the rest of its bytes are dropped.
    var refused = false
    /// The client ended its requests (END_STREAM).
    var requestEnded = false
    /// How its compressed messages are compressed (`grpc-encoding`); nil: identity.
    let encoding: MessageEncoding?
    /// Its `grpc-timeout`, as sent.
    let timeout: String?
    /// Once its request is found unfinished after the read that opened it: when the request
    /// must have arrived whole (`timeout`); nil: it may take as long as its bytes keep coming
    /// (`ServerSettings.requestReadTimeout`).
    var deadline: NIODeadline?
    /// When its last bytes came, for a request without a deadline.
    var lastProgress = NIODeadline.uptimeNanoseconds(0)
    /// Ends the request if it is still unfinished at its deadline or after a stall.
    var requestTimer: Scheduled<Void>?
    /// gRPC, or a browser's protocol (`WireProtocol`), and how its messages are encoded.
    let wire: WireProtocol
    let format: MessageFormat
    /// The browser page's origin, when CORS lets it read the answer.
    let origin: String?
    /// A browser protocol's answer so far (its metadata and message), sent whole with the status.
    var responseMetadata = Metadata()
    var responseMessage: ByteBuffer?
    /// gRPC-Web text: base64 received and not yet decoded (less than 4 characters).
    var undecodedText = ""

    init(
      inbound: HandoffQueue<RPCRequestPart<MessageBytes>>,
      cancellation: ServerContext.RPCCancellationHandle,
      credit: StreamCredit,
      requestEnded: Bool,
      encoding: MessageEncoding?,
      timeout: String?,
      wire: WireProtocol,
      format: MessageFormat,
      origin: String?
    ) {
      self.inbound = inbound
      self.cancellation = cancellation
      self.credit = credit
      self.requestEnded = requestEnded
      self.encoding = encoding
      self.timeout = timeout
      self.wire = wire
      self.format = format
      self.origin = origin
    }

    /// The client ended its requests.
    func endRequest() {
      inbound.finish()
      requestEnded = true
      requestTimer?.cancel()
      requestTimer = nil
    }
  }

  private let settings: ServerSettings
  private let unaryRoutes: UnaryRoutes
  /// Services whose unary methods browsers may call (Connect, gRPC-Web), by full name.
  private let browserServices: Set<String>
  /// The connection speaks HTTP/1.1 (`HTTP1Frames` turns it into frames): only the browser
  /// protocols can be answered on it, gRPC needs HTTP/2's trailers.
  private let overHTTP1: Bool
  /// Request bytes not yet whole messages: the process's (shared) and this connection's.
  private let requestBuffer: RequestBuffer
  private var buffered = 0
  private let acceptor: HandoffQueue<SuiteServerTransport.Accepted>
  let outbox = ResponseOutbox()
  /// The parts being delivered, kept between deliveries for its capacity.
  private var delivering: [ResponseOutbox.Part] = []
  private var streams: [HTTP2StreamID: Stream] = [:]
  private var context: ChannelHandlerContext?
  private var flushScheduled = false
  /// A connection WINDOW_UPDATE is written and not yet flushed (until then swift-nio-http2
  /// still reports the window without it).
  private var connectionWindowUpdateWritten = false
  private var lastStreamID = HTTP2StreamID.rootStream
  /// Streams opened in this read whose request has not ended: their timers are set once the
  /// read is done (most requests end in the read that opens them, and need none).
  private var openedUnfinished: [HTTP2StreamID] = []
  /// The connection's two ends as `ServerContext` names them, and the caller's host, once asked.
  private var peers: (remote: String, local: String, remoteHost: String)?
  /// Method paths already parsed, with their unary method if the transport answers it itself;
  /// at most `rememberedMethods` of them.
  private var methods: [String: KnownMethod] = [:]
  /// Its unary RPCs (`UnaryRoutes`), on their way to their task; nil before the first.
  private var unaryCalls: HandoffQueue<UnaryCall>?
  private static let rememberedMethods = 256
  private var draining = false
  private var readSinceKeepalive = false
  private var keepalive: RepeatedTask?
  private var keepaliveTimeout: Scheduled<Void>?
  private var idle: Scheduled<Void>?
  private var age: Scheduled<Void>?
  /// Closes the connection unless the client's SETTINGS (after its preface) come first.
  private var handshake: Scheduled<Void>?

  init(
    settings: ServerSettings,
    unaryRoutes: UnaryRoutes,
    browserServices: Set<String>,
    overHTTP1: Bool,
    requestBuffer: RequestBuffer,
    acceptor: HandoffQueue<SuiteServerTransport.Accepted>
  ) {
    self.settings = settings
    self.unaryRoutes = unaryRoutes
    self.browserServices = browserServices
    self.overHTTP1 = overHTTP1
    self.requestBuffer = requestBuffer
    self.acceptor = acceptor
  }

  // MARK: Connection

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    let loop = context.eventLoop
    let handler = NIOLoopBound(self, eventLoop: loop)
    keepalive = loop.scheduleRepeatedTask(
      initialDelay: .init(settings.keepaliveInterval),
      delay: .init(settings.keepaliveInterval)
    ) { _ in handler.value.checkAlive() }
    age = loop.scheduleTask(in: .init(settings.maxConnectionAge)) { handler.value.drain() }
    let channel = context.channel
    // HTTP/1.1 has no handshake after the request line (`HTTPVersionSniffer` timed that).
    if !overHTTP1 {
      handshake = loop.scheduleTask(in: .init(settings.handshakeTimeout)) {
        channel.close(promise: nil)
      }
    }
    scheduleIdleTimeout()
  }

  func channelInactive(context: ChannelHandlerContext) {
    for (_, stream) in streams {
      abandon(stream, RPCError(code: .cancelled, message: "the connection closed"))
    }
    streams = [:]
    // Its unary RPCs' task ends once those running have answered (or seen the cancellation).
    unaryCalls?.finish()
    for task in [keepaliveTimeout, idle, age, handshake] { task?.cancel() }
    keepalive?.cancel()
    outbox.setWritable(true)
    self.context = nil
    context.fireChannelInactive()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    outbox.setWritable(context.channel.isWritable)
    context.fireChannelWritabilityChanged()
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    // A stream's error (the HTTP/2 handler has reset it) ends that stream; any other (a
    // protocol or TLS error) the connection, whose streams are cancelled when it closes.
    if let streamError = error as? NIOHTTP2Errors.StreamError {
      if let stream = streams.removeValue(forKey: streamError.streamID) {
        abandon(
          stream,
          RPCError(code: .cancelled, message: "the stream failed: \(streamError.baseError)")
        )
        streamEnded()
      }
      return
    }
    context.close(promise: nil)
  }

  /// Graceful shutdown or the age limit: no new streams; the open ones get the grace time to
  /// finish, then the connection closes.
  func drain() {
    guard let context, !draining else { return }
    draining = true
    context.writeAndFlush(
      wrapOutboundOut(
        HTTP2Frame(
          streamID: .rootStream,
          payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil)
        )
      ),
      promise: nil
    )
    let channel = context.channel
    context.eventLoop.scheduleTask(in: .init(settings.maxConnectionGrace)) {
      channel.close(promise: nil)
    }
    closeIfDrained()
  }

  private func closeIfDrained() {
    guard draining, streams.isEmpty, let context else { return }
    flushNow()
    context.close(promise: nil)
  }

  private func scheduleIdleTimeout() {
    idle?.cancel()
    guard let context else { return }
    let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
    idle = context.eventLoop.scheduleTask(in: .init(settings.maxIdleTime)) {
      if handler.value.streams.isEmpty { handler.value.drain() }
    }
  }

  /// Every keepalive interval without a frame from the client: a PING, which must be answered
  /// within the keepalive timeout or the connection is closed.
  private func checkAlive() {
    guard let context else { return }
    defer { readSinceKeepalive = false }
    guard !readSinceKeepalive, keepaliveTimeout == nil else { return }
    context.writeAndFlush(
      wrapOutboundOut(
        HTTP2Frame(
          streamID: .rootStream,
          payload: .ping(HTTP2PingData(withInteger: 0x6772_7063), ack: false)
        )
      ),
      promise: nil
    )
    let channel = context.channel
    keepaliveTimeout = context.eventLoop.scheduleTask(in: .init(settings.keepaliveTimeout)) {
      channel.close(promise: nil)
    }
  }

  // MARK: Requests

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let frame = unwrapInboundIn(data)
    readSinceKeepalive = true
    switch frame.payload {
    case .headers(let headers):
      if frame.streamID > lastStreamID {
        open(
          frame.streamID,
          headers: headers.headers,
          endStream: headers.endStream,
          context: context
        )
      } else if headers.endStream, let stream = streams[frame.streamID] {
        // The client's trailers end its requests.
        if stream.wire == .connect { deliverWholeBody(stream) }
        stream.endRequest()
      }
    case .data(let payload):
      guard case .byteBuffer(var bytes) = payload.data else { return }
      guard let stream = streams[frame.streamID] else { return }
      stream.unacknowledged += bytes.readableBytes
      if !stream.refused {
        receive(&bytes, on: stream)
        if !stream.refused, !account(stream) {
          refuse(
            stream,
            RPCError(
              code: .resourceExhausted,
              message:
                "the server holds as many unfinished request bytes as it may; try again later"
            )
          )
        }
        if stream.refused { release(stream) }
      }
      if payload.endStream {
        if stream.wire == .connect { deliverWholeBody(stream) }
        stream.endRequest()
      } else if stream.deadline == nil, stream.requestTimer != nil {
        stream.lastProgress = .now()
      }
    case .rstStream:
      if let stream = streams.removeValue(forKey: frame.streamID) {
        abandon(stream, RPCError(code: .cancelled, message: "the client cancelled the RPC"))
        streamEnded()
      }
    case .ping(_, ack: true):
      keepaliveTimeout?.cancel()
      keepaliveTimeout = nil
    case .settings:
      handshake?.cancel()
      handshake = nil
    default:
      // SETTINGS and PINGs are answered by the HTTP/2 handler; after a client's GOAWAY the
      // open streams finish as usual.
      break
    }
  }

  /// A stream's window is given back as its bytes arrive, once half is used, unless its
  /// handler has a window's worth of messages still unread (then when it has read half of
  /// them: `resume`), so a client cannot queue more than that ahead of a slow handler. A
  /// message larger than the window still arrives: its bytes count only once it is whole.
  /// (The connection's window is kept by the HTTP/2 layer: `userInboundEventTriggered` for
  /// swift-nio-http2, `NGHTTP2ServerCodec` itself for libnghttp2.)
  func channelReadComplete(context: ChannelHandlerContext) {
    for (id, stream) in streams
    where stream.unacknowledged >= Self.streamWindow / 2 && stream.credit.mayReturn() {
      giveBack(stream, id)
    }
    // A deadline runs from the request's HEADERS: from this read, give or take its duration.
    if !openedUnfinished.isEmpty {
      let now = NIODeadline.now()
      for id in openedUnfinished {
        guard let stream = streams[id], !stream.requestEnded, stream.requestTimer == nil else {
          continue
        }
        stream.deadline = GRPCTimeout.duration(stream.timeout).map { now + .init($0) }
        stream.lastProgress = now
        scheduleRequestTimer(
          stream,
          id,
          at: stream.deadline ?? now + .init(settings.requestReadTimeout)
        )
      }
    }
    openedUnfinished.removeAll(keepingCapacity: true)
    context.fireChannelReadComplete()
  }

  private func scheduleRequestTimer(_ stream: Stream, _ id: HTTP2StreamID, at when: NIODeadline) {
    guard let context else { return }
    let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
    stream.requestTimer = context.eventLoop.scheduleTask(deadline: when) {
      handler.value.requestOverdue(id)
    }
  }

  /// A request still unfinished at its deadline, or whose bytes stopped coming for the read
  /// timeout: DEADLINE_EXCEEDED and a reset, whatever its handler is doing, and its buffers go.
  /// (A request that arrived whole is its handler's: at its deadline the RPC is cancelled, and
  /// what the handler then answers is still sent, as GRPCCore does.)
  private func requestOverdue(_ id: HTTP2StreamID) {
    guard let stream = streams[id], !stream.requestEnded else { return }
    stream.requestTimer = nil
    let message: String
    if stream.deadline != nil {
      message = "the request did not arrive whole before its deadline"
    } else {
      let resume = stream.lastProgress + .init(settings.requestReadTimeout)
      guard resume <= .now() else { return scheduleRequestTimer(stream, id, at: resume) }
      message = "no bytes of the request arrived for \(settings.requestReadTimeout)"
    }
    refuse(stream, RPCError(code: .deadlineExceeded, message: message))
    stream.cancellation.cancel()
    send(.status(Status(code: .deadlineExceeded, message: message), [:]), on: id)
  }

  /// swift-nio-http2 reports the connection's window after every DATA frame, those of streams
  /// already closed too (which never reach this handler): once half is used, it is refilled
  /// (one slow stream must not stall the others).
  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if let update = event as? NIOHTTP2WindowUpdatedEvent, update.streamID == .rootStream,
      let window = update.inboundWindowSize, window <= Self.connectionWindow / 2,
      !connectionWindowUpdateWritten
    {
      write(
        HTTP2Frame(
          streamID: .rootStream,
          payload: .windowUpdate(windowSizeIncrement: Self.connectionWindow - window)
        )
      )
      connectionWindowUpdateWritten = true
      scheduleFlush()
    }
    context.fireUserInboundEventTriggered(event)
  }

  /// The handler of stream `id` has read what held its window back.
  func resume(_ id: HTTP2StreamID) {
    guard let stream = streams[id] else { return }
    giveBack(stream, id)
  }

  private func giveBack(_ stream: Stream, _ id: HTTP2StreamID) {
    guard stream.unacknowledged > 0 else { return }
    write(
      HTTP2Frame(streamID: id, payload: .windowUpdate(windowSizeIncrement: stream.unacknowledged))
    )
    stream.unacknowledged = 0
    scheduleFlush()
  }

  private func open(
    _ id: HTTP2StreamID,
    headers: HPACKHeaders,
    endStream: Bool,
    context: ChannelHandlerContext
  ) {
    lastStreamID = id
    guard !draining else {
      context.writeAndFlush(
        wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.refusedStream))),
        promise: nil
      )
      return
    }
    // One pass over the headers (HTTP/2 names are lowercase; the HTTP/2 handler has checked).
    var method: String?
    var path: String?
    var contentType: String?
    var encodingHeader: String?
    var timeout: String?
    var contentEncoding: String?
    var connectTimeout: String?
    var origin: String?
    var metadata = Metadata()
    var undecodable: String?
    for (name, value, _) in headers {
      switch name {
      case ":method": method = method ?? value
      case ":path": path = path ?? value
      case "content-type": contentType = contentType ?? value
      case "te": continue
      case _ where name.utf8.first == UInt8(ascii: ":"): continue
      case _ where name.hasSuffix("-bin"):
        guard let bytes = Base64.decode(value) else {
          undecodable = undecodable ?? name
          continue
        }
        metadata.addBinary(bytes, forKey: name)
      default:
        switch name {
        case "grpc-encoding": encodingHeader = encodingHeader ?? value
        case "grpc-timeout": timeout = timeout ?? value
        case "content-encoding": contentEncoding = contentEncoding ?? value
        case "connect-timeout-ms": connectTimeout = connectTimeout ?? value
        case "origin": origin = origin ?? value
        default: break
        }
        metadata.addString(value, forKey: name)
      }
    }
    if method == "OPTIONS" {
      return preflight(id, path: path, origin: origin, requestedHeaders: headers)
    }
    guard method == "POST" else { return reject(id, httpStatus: "405") }
    var format = MessageFormat.protobuf
    guard let wire = WireProtocol(contentType: contentType, format: &format) else {
      return reject(id, httpStatus: "415")
    }
    // gRPC's status travels in trailers, which HTTP/1.1 does not carry.
    if wire == .grpc, overHTTP1 { return reject(id, httpStatus: "505") }
    // A page from an origin not on the list gets nothing; a caller with no origin is no page.
    let allowedOrigin: String?
    if wire.isBrowser, let origin {
      guard settings.browserOrigins.allows(origin) else { return reject(id, httpStatus: "403") }
      allowedOrigin = origin
    } else {
      allowedOrigin = nil
    }
    let refusal = Refusal(id: id, wire: wire, format: format, origin: allowedOrigin)
    guard let path, let known = self.method(path) else {
      return refuse(refusal, .unimplemented, "malformed method path")
    }
    let (descriptor, unary) = (known.descriptor, known.unary)
    if wire.isBrowser, unary == nil || !known.browser {
      return refuse(
        refusal,
        .unimplemented,
        "\(descriptor.fullyQualifiedMethod) is not served to browsers (gRPC only)"
      )
    }
    let encodingName = (wire == .connect ? contentEncoding : encodingHeader) ?? "identity"
    let encoding = MessageEncoding(rawValue: encodingName)
    guard encoding != nil || encodingName == "identity" else {
      return refuse(
        refusal,
        .unimplemented,
        "message encoding \(encodingName) is not supported (\(MessageEncoding.accepted))"
      )
    }
    if let undecodable {
      return refuse(refusal, .invalidArgument, "\(undecodable) is not base64")
    }
    // Connect's deadline, as the `grpc-timeout` the routes and the request timer read.
    if wire == .connect, let connectTimeout {
      guard let converted = ConnectTimeout.grpcTimeout(connectTimeout) else {
        return refuse(
          refusal,
          .invalidArgument,
          "connect-timeout-ms must be 1 to 10 digits of milliseconds"
        )
      }
      timeout = converted
      metadata.removeAllValues(forKey: "grpc-timeout")
      metadata.addString(converted, forKey: "grpc-timeout")
    }
    idle?.cancel()
    idle = nil
    let inbound = HandoffQueue<RPCRequestPart<MessageBytes>>()
    // GRPCCore reads the metadata as the stream's first part; the unary path is given it.
    if unary == nil { inbound.yield(.metadata(metadata)) }
    let cancellation = ServerContext.RPCCancellationHandle()
    let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
    let credit = StreamCredit(handler: handler, streamID: id)
    if !endStream { openedUnfinished.append(id) }
    let stream = Stream(
      inbound: inbound,
      cancellation: cancellation,
      credit: credit,
      requestEnded: endStream,
      encoding: encoding,
      timeout: timeout,
      wire: wire,
      format: format,
      origin: allowedOrigin
    )
    streams[id] = stream
    if endStream {
      // A Connect request without a body: its message is empty.
      if wire == .connect { deliverWholeBody(stream) }
      inbound.finish()
    }
    let writer = SuiteResponseWriter(handler: handler, outbox: outbox, streamID: id)
    let requests = ConsumedRequests(parts: inbound, credit: credit)
    let peers = self.peers ?? Self.peers(context.channel)
    self.peers = peers
    let serverContext = ServerContext(
      descriptor: descriptor,
      remotePeer: peers.remote,
      localPeer: peers.local,
      cancellation: cancellation
    )
    if let unary {
      unaryCalls(context).yield(
        UnaryCall(
          route: unary,
          metadata: metadata,
          format: format,
          peer: peers.remoteHost,
          requests: requests,
          writer: writer,
          context: serverContext
        )
      )
      return
    }
    let rpc = RPCStream(
      descriptor: descriptor,
      inbound: RPCAsyncSequence<RPCRequestPart<MessageBytes>, any Error>(wrapping: requests),
      outbound: RPCWriter<RPCResponsePart<MessageBytes>>.Closable(wrapping: writer)
    )
    acceptor.yield(.stream(rpc, serverContext))
  }

  /// The connection's unary RPCs, run by a task of their own on this event loop, begun with
  /// the first of them.
  private func unaryCalls(_ context: ChannelHandlerContext) -> HandoffQueue<UnaryCall> {
    if let unaryCalls { return unaryCalls }
    let queue = HandoffQueue<UnaryCall>()
    unaryCalls = queue
    acceptor.yield(
      .unaryCalls(
        queue,
        settings.unaryOnEventLoop ? EventLoopTaskExecutor.of(context.eventLoop) : nil
      )
    )
    return queue
  }

  /// "/package.Service/Method" and its entry in `unaryRoutes`, remembered per connection: its
  /// clients call few methods, many times each.
  private func method(_ path: String) -> KnownMethod? {
    if let known = methods[path] { return known }
    let parts = path.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3, parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else {
      return nil
    }
    let method = KnownMethod(
      descriptor: MethodDescriptor(
        fullyQualifiedService: String(parts[1]),
        method: String(parts[2])
      ),
      unary: unaryRoutes[path],
      browser: browserServices.contains(String(parts[1]))
    )
    if methods.count < Self.rememberedMethods { methods[path] = method }
    return method
  }

  private static func peers(
    _ channel: any Channel
  ) -> (remote: String, local: String, remoteHost: String) {
    let remote = peer(channel.remoteAddress)
    return (remote, peer(channel.localAddress), Peer.host(of: remote))
  }

  /// As grpc-swift names peers ("ipv4:127.0.0.1:5000"), which logs and throttling key on.
  private static func peer(_ address: SocketAddress?) -> String {
    switch address {
    case .v4(let v4)?: "ipv4:\(v4.host):\(address?.port ?? 0)"
    case .v6(let v6)?: "ipv6:[\(v6.host)]:\(address?.port ?? 0)"
    case .unixDomainSocket?: "unix:\(address?.pathname ?? "<unknown>")"
    case nil: "<unknown>"
    }
  }

  /// Takes a DATA frame's bytes: gRPC and gRPC-Web are split into messages as they come
  /// (gRPC-Web text decoded from base64 first); a Connect body is one message, kept whole
  /// until the request ends (`deliverWholeBody`) and no larger than the message limit.
  private func receive(_ bytes: inout ByteBuffer, on stream: Stream) {
    switch stream.wire {
    case .grpc, .grpcWeb(text: false):
      stream.pending.writeBuffer(&bytes)
      deframe(stream)
    case .grpcWeb(text: true):
      // Base64 decodes by 4 characters; a frame may end inside a group.
      stream.undecodedText += bytes.readString(length: bytes.readableBytes) ?? ""
      let whole = stream.undecodedText.utf8.count / 4 * 4
      let text = String(stream.undecodedText.utf8.prefix(whole)) ?? ""
      stream.undecodedText = String(stream.undecodedText.utf8.dropFirst(whole)) ?? ""
      guard let decoded = Base64.decode(text) else {
        return refuse(
          stream,
          RPCError(code: .invalidArgument, message: "the grpc-web-text body is not base64")
        )
      }
      stream.pending.writeBytes(decoded)
      deframe(stream)
    case .connect:
      guard stream.pending.readableBytes + bytes.readableBytes <= settings.maxRequestBytes else {
        return refuse(stream, tooLarge: stream.pending.readableBytes + bytes.readableBytes)
      }
      stream.pending.writeBuffer(&bytes)
    }
  }

  /// A Connect request has ended: its whole body is its message (inflated by its
  /// `content-encoding`).
  private func deliverWholeBody(_ stream: Stream) {
    guard !stream.refused else { return }
    var message = stream.pending
    stream.pending = ByteBuffer()
    if let encoding = stream.encoding {
      guard let inflated = inflate(message, encoding, on: stream, corrupt: .invalidArgument) else {
        return
      }
      message = inflated
    }
    _ = account(stream)
    stream.credit.queued(message.readableBytes)
    stream.inbound.yield(.message(MessageBytes(buffer: message)))
  }

  /// `message` inflated by `encoding`, no larger than the message limit; nil, with the stream
  /// refused, when it would be larger or is not valid data (`corrupt`: gRPC answers INTERNAL,
  /// as grpc-swift does; Connect's body is the caller's input, INVALID_ARGUMENT).
  private func inflate(
    _ message: ByteBuffer,
    _ encoding: MessageEncoding,
    on stream: Stream,
    corrupt: RPCError.Code
  ) -> ByteBuffer? {
    switch encoding.decompress(message, limit: settings.maxRequestBytes) {
    case .success(let inflated): return inflated
    case .failure(.tooLarge): refuse(stream, tooLarge: nil)
    case .failure(.corrupt):
      refuse(
        stream,
        RPCError(code: corrupt, message: "a message is not valid \(encoding.rawValue) data")
      )
    }
    return nil
  }

  /// Splits the stream's bytes into messages: 1 byte compressed flag, 4 bytes length, message
  /// (inflated when the flag says so, by the stream's `grpc-encoding`).
  private func deframe(_ stream: Stream) {
    while stream.pending.readableBytes >= 5 {
      let start = stream.pending.readerIndex
      guard let flag = stream.pending.getInteger(at: start, as: UInt8.self),
        let length = stream.pending.getInteger(at: start + 1, as: UInt32.self)
      else { return }
      guard Int(length) <= settings.maxRequestBytes else {
        return refuse(stream, tooLarge: Int(length))
      }
      guard stream.pending.readableBytes >= 5 + Int(length),
        var message = stream.pending.getSlice(at: start + 5, length: Int(length))
      else { return }
      stream.pending.moveReaderIndex(forwardBy: 5 + Int(length))
      if flag != 0 {
        guard let encoding = stream.encoding else {
          return refuse(
            stream,
            RPCError(code: .internalError, message: "a compressed message without grpc-encoding")
          )
        }
        guard let inflated = inflate(message, encoding, on: stream, corrupt: .internalError) else {
          return
        }
        message = inflated
      }
      stream.credit.queued(5 + Int(length))
      stream.inbound.yield(.message(MessageBytes(buffer: message)))
    }
    if stream.pending.readableBytes == 0 { stream.pending.clear() }
  }

  /// Counts the stream's bytes that are not yet whole messages against the connection's and the
  /// process's limits; false, with nothing more counted, when that would pass either.
  private func account(_ stream: Stream) -> Bool {
    let growth = stream.pending.readableBytes - stream.buffered
    if growth > 0 {
      guard buffered + growth <= settings.maxBufferedRequestBytesPerConnection,
        requestBuffer.take(growth)
      else {
        return false
      }
    } else if growth < 0 {
      _ = requestBuffer.take(growth)
    }
    buffered += growth
    stream.buffered += growth
    return true
  }

  /// A stream that ends without an answer (the client reset it, the stream or the connection
  /// failed): its RPC is cancelled, its reader told why, and what it held goes.
  private func abandon(_ stream: Stream, _ error: RPCError) {
    stream.cancellation.cancel()
    stream.requestTimer?.cancel()
    release(stream)
    stream.inbound.finish(throwing: error)
  }

  /// Gives back what the stream's bytes counted (it ended, or they were dropped).
  private func release(_ stream: Stream) {
    guard stream.buffered != 0 else { return }
    _ = requestBuffer.take(-stream.buffered)
    buffered -= stream.buffered
    stream.buffered = 0
  }

  /// Ends the stream's requests with `error`; the rest of its bytes are dropped.
  private func refuse(_ stream: Stream, _ error: RPCError) {
    stream.inbound.finish(throwing: error)
    stream.pending.clear()
    stream.refused = true
  }

  private func refuse(_ stream: Stream, tooLarge length: Int?) {
    let size = length.map { "of \($0) bytes " } ?? ""
    refuse(
      stream,
      RPCError(
        code: .resourceExhausted,
        message: "message \(size)is larger than the limit of \(settings.maxRequestBytes) bytes"
      )
    )
  }

  private func reject(_ id: HTTP2StreamID, httpStatus: String) {
    write(
      HTTP2Frame(
        streamID: id,
        payload: .headers(.init(headers: [":status": httpStatus], endStream: true))
      )
    )
    scheduleFlush()
  }

  /// A stream refused before any handler ran, and how to answer it.
  private struct Refusal {
    let id: HTTP2StreamID
    let wire: WireProtocol
    let format: MessageFormat
    let origin: String?
  }

  /// Answers `refusal`'s stream with `code` before any handler ran: trailers only for gRPC,
  /// the protocol's own error for a browser's.
  private func refuse(_ refusal: Refusal, _ code: Status.Code, _ message: String) {
    guard refusal.wire == .grpc else {
      return sendBrowserAnswer(
        on: refusal.id,
        wire: refusal.wire,
        format: refusal.format,
        origin: refusal.origin,
        status: Status(code: code, message: message)
      )
    }
    var headers = Self.okHeaders
    headers.add(name: "grpc-status", value: String(code.rawValue))
    headers.add(name: "grpc-message", value: PercentEncoding.encode(message))
    write(
      HTTP2Frame(streamID: refusal.id, payload: .headers(.init(headers: headers, endStream: true)))
    )
    scheduleFlush()
  }

  /// A CORS preflight: a page on an allowed origin may POST to a method browsers may call,
  /// with the headers it asks for; anything else is refused (the browser then sends nothing).
  private func preflight(
    _ id: HTTP2StreamID,
    path: String?,
    origin: String?,
    requestedHeaders headers: HPACKHeaders
  ) {
    guard let origin, settings.browserOrigins.allows(origin), let path,
      let known = method(path), known.browser, known.unary != nil
    else { return reject(id, httpStatus: "403") }
    var answer: HPACKHeaders = [":status": "204"]
    answer.add(name: "access-control-allow-origin", value: origin)
    answer.add(name: "access-control-allow-methods", value: "POST")
    if let asked = headers.first(name: "access-control-request-headers") {
      answer.add(name: "access-control-allow-headers", value: asked)
    }
    answer.add(name: "access-control-max-age", value: "7200")
    answer.add(name: "vary", value: "Origin, Access-Control-Request-Headers")
    write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: answer, endStream: true))))
    scheduleFlush()
  }

  /// A browser protocol's whole answer: headers, then the body that ends the stream.
  private func sendBrowserAnswer(
    on id: HTTP2StreamID,
    wire: WireProtocol,
    format: MessageFormat,
    origin: String?,
    status: Status,
    metadata: Metadata = [:],
    trailers: Metadata = [:],
    message: ByteBuffer? = nil
  ) {
    guard let context else { return }
    let (headers, body) = BrowserResponse.encode(
      wire: wire,
      format: format,
      status: status,
      metadata: metadata,
      trailers: trailers,
      message: message,
      origin: origin,
      allocator: context.channel.allocator
    )
    write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers))))
    write(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(body), endStream: true))))
    scheduleFlush()
  }

  // MARK: Responses

  /// The response parts posted to the outbox since the last delivery, in the order posted.
  func deliverResponses() {
    outbox.take(into: &delivering)
    for (id, part) in delivering { send(part, on: id) }
    delivering.removeAll(keepingCapacity: true)
  }

  /// Writes one response part of stream `id`; the flush waits for the end of the loop's
  /// current pass (or the configured delay), so responses finished together share a write.
  func send(_ part: RPCResponsePart<MessageBytes>, on id: HTTP2StreamID) {
    guard context != nil, let stream = streams[id] else { return }
    if stream.wire != .grpc { return sendToBrowser(part, stream: stream, on: id) }
    switch part {
    case .metadata(let metadata):
      // Held until the first message or the status, which may then go as trailers only.
      var headers = Self.okHeaders
      Self.add(metadata, to: &headers)
      stream.responseHeaders = headers
    case .message(let bytes):
      if !stream.sentHeaders {
        write(
          HTTP2Frame(
            streamID: id,
            payload: .headers(.init(headers: stream.responseHeaders ?? Self.okHeaders))
          )
        )
        stream.sentHeaders = true
      }
      guard let context else { return }
      var buffer = context.channel.allocator.buffer(capacity: 5 + bytes.count)
      buffer.writeInteger(UInt8(0))
      buffer.writeInteger(UInt32(bytes.count))
      var body = bytes.buffer
      buffer.writeBuffer(&body)
      write(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(buffer)))))
    case .status(let status, let metadata):
      var trailers: HPACKHeaders =
        stream.sentHeaders ? [:] : stream.responseHeaders ?? Self.okHeaders
      trailers.add(name: "grpc-status", value: String(status.code.rawValue))
      if !status.message.isEmpty {
        trailers.add(name: "grpc-message", value: PercentEncoding.encode(status.message))
      }
      Self.add(metadata, to: &trailers)
      write(HTTP2Frame(streamID: id, payload: .headers(.init(headers: trailers, endStream: true))))
      finish(stream, id)
    }
    scheduleFlush()
  }

  /// A browser protocol's answer is sent whole with its status: its metadata and message are
  /// held until then (Connect's HTTP status and gRPC-Web's trailers depend on the status).
  private func sendToBrowser(
    _ part: RPCResponsePart<MessageBytes>,
    stream: Stream,
    on id: HTTP2StreamID
  ) {
    switch part {
    case .metadata(let metadata): stream.responseMetadata = metadata
    case .message(let bytes): stream.responseMessage = bytes.buffer
    case .status(let status, let trailers):
      sendBrowserAnswer(
        on: id,
        wire: stream.wire,
        format: stream.format,
        origin: stream.origin,
        status: status,
        metadata: stream.responseMetadata,
        trailers: trailers,
        message: status.code == .ok ? stream.responseMessage : nil
      )
      finish(stream, id)
    }
  }

  /// The stream's answer is written: it ends, and what it held goes.
  private func finish(_ stream: Stream, _ id: HTTP2StreamID) {
    // Answered before the client finished sending (a refusal, say): it need not go on.
    if !stream.requestEnded { write(HTTP2Frame(streamID: id, payload: .rstStream(.noError))) }
    streams[id] = nil
    stream.requestTimer?.cancel()
    release(stream)
    stream.inbound.finish()
    streamEnded()
  }

  private func streamEnded() {
    if streams.isEmpty { scheduleIdleTimeout() }
    closeIfDrained()
  }

  private func write(_ frame: HTTP2Frame) {
    context?.write(wrapOutboundOut(frame), promise: nil)
  }

  private func scheduleFlush() {
    guard !flushScheduled, let context else { return }
    flushScheduled = true
    let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
    if let delay = settings.flushDelay {
      context.eventLoop.scheduleTask(in: .init(delay)) { handler.value.flushNow() }
    } else {
      context.eventLoop.execute { handler.value.flushNow() }
    }
  }

  private func flushNow() {
    flushScheduled = false
    context?.flush()
    connectionWindowUpdateWritten = false
  }

  static func add(_ metadata: Metadata, to headers: inout HPACKHeaders) {
    for (key, value) in metadata {
      switch value {
      // Unique per RPC: in HPACK's table it would only evict what repeats and lengthen
      // every search of the table.
      case .string(let text) where key == "x-request-id":
        headers.add(name: key, value: text, indexing: .nonIndexable)
      default: headers.add(name: key, value: value.headerText)
      }
    }
  }
}

extension Metadata.Value {
  /// The value as a header carries it: text as it is, binary ("-bin" keys) in base64.
  var headerText: String {
    switch self {
    case .string(let text): text
    case .binary(let bytes): Base64.encode(bytes)
    }
  }
}

/// A stream's requests as its handler reads them, telling the stream's credit what was read.
struct ConsumedRequests: AsyncSequence, Sendable {
  typealias Element = RPCRequestPart<MessageBytes>
  let parts: HandoffQueue<Element>
  let credit: StreamCredit

  struct AsyncIterator: AsyncIteratorProtocol {
    let parts: HandoffQueue<Element>
    let credit: StreamCredit

    mutating func next() async throws -> Element? {
      let part = try await parts.next()
      // The 5-byte prefix counted too: the client's window covers all of a DATA frame.
      if case .message(let bytes) = part { credit.read(bytes.count + 5) }
      return part
    }
  }

  func makeAsyncIterator() -> AsyncIterator {
    AsyncIterator(parts: parts, credit: credit)
  }
}

/// A stream's messages handed to its handler and not yet read: its window is held back while
/// they amount to a window's worth, and given back once the handler has read half of them.
final class StreamCredit: Sendable {
  private let handler: NIOLoopBound<SuiteConnectionHandler>
  private let streamID: HTTP2StreamID
  private let state = Mutex<(unread: Int, withheld: Bool)>((0, false))

  init(handler: NIOLoopBound<SuiteConnectionHandler>, streamID: HTTP2StreamID) {
    self.handler = handler
    self.streamID = streamID
  }

  /// On the event loop: a whole message handed over.
  func queued(_ bytes: Int) {
    state.withLock { $0.unread += bytes }
  }

  /// On the event loop: whether the window may be given back now; if not, `read` will ask.
  func mayReturn() -> Bool {
    state.withLock { state in
      state.withheld = state.unread >= SuiteConnectionHandler.streamWindow
      return !state.withheld
    }
  }

  /// By the handler's reader: a message read.
  func read(_ bytes: Int) {
    let resume = state.withLock { state -> Bool in
      state.unread -= bytes
      guard state.withheld, state.unread < SuiteConnectionHandler.streamWindow / 2 else {
        return false
      }
      state.withheld = false
      return true
    }
    guard resume else { return }
    let handler = self.handler
    let id = streamID
    handler.eventLoop.execute { handler.value.resume(id) }
  }
}

/// A stream's responses, posted to its connection's outbox without waiting for the event loop,
/// unless the connection has more queued than the socket takes (then until it drains).
struct SuiteResponseWriter: ClosableRPCWriterProtocol {
  typealias Element = RPCResponsePart<MessageBytes>
  let handler: NIOLoopBound<SuiteConnectionHandler>
  let outbox: ResponseOutbox
  let streamID: HTTP2StreamID

  func write(_ element: Element) async {
    await write(contentsOf: CollectionOfOne(element))
  }

  /// Posted at once (a unary RPC's whole answer, `UnaryCall.answer`): one delivery for all of them.
  func write(contentsOf elements: some Sequence<Element>) async {
    guard await outbox.post(elements, for: streamID) else { return }
    let handler = self.handler
    handler.eventLoop.execute { handler.value.deliverResponses() }
  }

  /// GRPCCore writes the status before finishing; nothing is left to do.
  func finish() async {}

  func finish(throwing error: any Error) async {
    await write(.status(Status(code: .internalError, message: "the server failed to answer"), [:]))
  }
}

/// A connection's response parts on their way from the handlers (on the concurrency pool) to
/// its event loop. Handing each part to the loop on its own cost a job, and often a wake-up,
/// per part: three per unary RPC. Parts wait here instead, and one job on the loop delivers all
/// that came since the last one (under load, the answers of many streams at once). Writers
/// wait while the connection has more queued than the socket takes.
final class ResponseOutbox: Sendable {
  typealias Part = (HTTP2StreamID, RPCResponsePart<MessageBytes>)

  private struct State {
    var parts: [Part] = []
    /// A delivery job is on its way to the event loop.
    var deliveryAsked = false
    var writable = true
    var waiters: [CheckedContinuation<Void, Never>] = []
  }

  private let state = Mutex(State())

  /// Queues `parts`; true when the caller must ask the event loop for a delivery (none is on
  /// its way yet).
  func post(
    _ parts: some Sequence<RPCResponsePart<MessageBytes>>,
    for id: HTTP2StreamID
  ) async -> Bool {
    while true {
      let posted = state.withLock { state -> Bool? in
        guard state.writable else { return nil }
        for part in parts { state.parts.append((id, part)) }
        defer { state.deliveryAsked = true }
        return !state.deliveryAsked
      }
      if let posted { return posted }
      await waitUntilWritable()
    }
  }

  /// On the event loop: swaps the queued parts into `parts` (empty, kept for its capacity).
  func take(into parts: inout [Part]) {
    state.withLock { state in
      swap(&state.parts, &parts)
      state.deliveryAsked = false
    }
  }

  func setWritable(_ writable: Bool) {
    let waiters = state.withLock { state in
      state.writable = writable
      guard writable else { return [CheckedContinuation<Void, Never>]() }
      defer { state.waiters = [] }
      return state.waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  private func waitUntilWritable() async {
    await withCheckedContinuation { continuation in
      let ready = state.withLock { state in
        if state.writable { return true }
        state.waiters.append(continuation)
        return false
      }
      if ready { continuation.resume() }
    }
  }
}

/// grpc-message's encoding: printable ASCII except '%' as is, every other byte as %XX.
enum PercentEncoding {
  /// A message's bytes kept at most: a status that repeats a large input (a 3 MiB name, say)
  /// would otherwise make trailers larger than any client accepts, and the RPC would never end.
  static let maxMessageBytes = 1024

  static func encode(_ message: String) -> String {
    var out = ""
    // Cut, and said so (a character cut in two becomes U+FFFD).
    let message =
      message.utf8.count > maxMessageBytes
      ? String(decoding: message.utf8.prefix(maxMessageBytes), as: UTF8.self) + "…" : message
    for byte in message.utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        out.unicodeScalars.append(Unicode.Scalar(byte))
      } else {
        let hex = String(byte, radix: 16, uppercase: true)
        out += hex.count == 1 ? "%0\(hex)" : "%\(hex)"
      }
    }
    return out
  }
}

/// Base64 of binary metadata ("-bin" keys), Foundation's: padded when sent; padding optional
/// when read, as gRPC allows.
enum Base64 {
  static func encode(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }

  static func decode(_ text: String) -> [UInt8]? {
    let padded = text + String(repeating: "=", count: (4 - text.utf8.count % 4) % 4)
    return Data(base64Encoded: padded).map { [UInt8]($0) }
  }
}
