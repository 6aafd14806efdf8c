import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// Tells HTTP/2 from HTTP/1.1 by a connection's first bytes (HTTP/2's client preface, "PRI *
/// HTTP/2.0…", or anything else), then sets the connection up for that version
/// (`configure`) and steps aside, handing on the bytes it held. A client that sends too little
/// to tell within the handshake timeout is closed, as one that never finishes HTTP/2's
/// handshake is.
final class HTTPVersionSniffer: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer

  private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  private let timeout: TimeAmount
  /// Adds the handlers for HTTP/2 (true) or HTTP/1.1 (false) after this one.
  private let configure: (ChannelPipeline.SynchronousOperations, _ http2: Bool) throws -> Void
  private var held: ByteBuffer?
  private var deadline: Scheduled<Void>?

  init(
    timeout: TimeAmount,
    configure: @escaping (ChannelPipeline.SynchronousOperations, _ http2: Bool) throws -> Void
  ) {
    self.timeout = timeout
    self.configure = configure
  }

  func handlerAdded(context: ChannelHandlerContext) {
    let channel = context.channel
    deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    deadline?.cancel()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    var bytes = unwrapInboundIn(data)
    if held == nil {
      held = bytes
    } else {
      held?.writeBuffer(&bytes)
    }
    guard let held else { return }
    let seen = min(held.readableBytes, Self.preface.count)
    let http2 = held.getBytes(at: held.readerIndex, length: seen) == Array(Self.preface[..<seen])
    // Still HTTP/2's preface, as far as it came: wait for the rest.
    if http2, seen < Self.preface.count { return }
    deadline?.cancel()
    do {
      try configure(context.pipeline.syncOperations, http2)
    } catch {
      context.close(promise: nil)
      return
    }
    self.held = nil
    context.fireChannelRead(wrapInboundOut(held))
    context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
  }
}

/// HTTP/1.1 requests as the HTTP/2 frames `SuiteConnectionHandler` reads (each request a new
/// stream), and its frames back as HTTP/1.1 responses: one request at a time (NIO's pipelining
/// handler holds the next until the answer ends), each answer sent whole with its length once
/// its stream ends. What has no meaning in HTTP/1.1 (window updates, SETTINGS) is dropped; a
/// PING is answered here, so keepalive sees a live client; GOAWAY closes the connection after
/// the answer under way. Browser protocols only: gRPC needs HTTP/2's trailers.
final class HTTP1Frames: ChannelDuplexHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias InboundOut = HTTP2Frame
  typealias OutboundIn = HTTP2Frame
  typealias OutboundOut = HTTPServerResponsePart

  /// Headers that belong to an HTTP/1.1 connection, not to a request.
  private static let connectionHeaders: Set<String> = [
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te",
  ]

  private var nextStreamID = 1
  /// The request being answered, and its answer's head once written by the stream.
  private var current: HTTP2StreamID?
  private var head: HTTPResponseHead?
  private var body = ByteBuffer()
  private var keepAlive = true
  private var goingAway = false

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let request):
      let id = HTTP2StreamID(nextStreamID)
      nextStreamID += 2
      current = id
      head = nil
      body.clear()
      keepAlive = request.isKeepAlive
      var headers: HPACKHeaders = [
        ":method": request.method.rawValue, ":path": request.uri, ":scheme": "http",
      ]
      if let host = request.headers.first(name: "host") {
        headers.add(name: ":authority", value: host)
      }
      for (name, value) in request.headers {
        let name = name.lowercased()
        if !Self.connectionHeaders.contains(name) { headers.add(name: name, value: value) }
      }
      fire(context, HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers))))
    case .body(let bytes):
      guard let current else { return }
      fire(context, HTTP2Frame(streamID: current, payload: .data(.init(data: .byteBuffer(bytes)))))
    case .end:
      guard let current else { return }
      fire(
        context,
        HTTP2Frame(
          streamID: current,
          payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
        )
      )
    }
  }

  private func fire(_ context: ChannelHandlerContext, _ frame: HTTP2Frame) {
    context.fireChannelRead(wrapInboundOut(frame))
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let frame = unwrapOutboundIn(data)
    switch frame.payload {
    case .headers(let headers) where frame.streamID == current:
      if head == nil {
        let status = headers.headers.first(name: ":status").flatMap(Int.init) ?? 500
        var fields = HTTPHeaders()
        for (name, value, _) in headers.headers where !name.hasPrefix(":") {
          fields.add(name: name, value: value)
        }
        head = HTTPResponseHead(
          version: .http1_1,
          status: HTTPResponseStatus(statusCode: status),
          headers: fields
        )
      }
      if headers.endStream { respond(context) }
    case .data(let data) where frame.streamID == current:
      if case .byteBuffer(var bytes) = data.data { body.writeBuffer(&bytes) }
      if data.endStream { respond(context) }
    case .ping(let ping, ack: false):
      // The connection's keepalive: a client that sends requests is alive.
      let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
      let context = NIOLoopBound(context, eventLoop: context.eventLoop)
      context.value.eventLoop.execute {
        handler.value.fire(
          context.value,
          HTTP2Frame(streamID: .rootStream, payload: .ping(ping, ack: true))
        )
      }
    case .goAway:
      goingAway = true
      if current == nil { context.close(promise: nil) }
    default:
      // Window updates, SETTINGS, resets of streams already answered.
      break
    }
    promise?.succeed()
  }

  /// The stream has ended: its answer goes out whole, with its length.
  private func respond(_ context: ChannelHandlerContext) {
    guard var head else { return }
    head.headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
    let close = !keepAlive || goingAway
    if close { head.headers.replaceOrAdd(name: "connection", value: "close") }
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    if body.readableBytes > 0 {
      context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
    }
    let ended = context.eventLoop.makePromise(of: Void.self)
    context.write(wrapOutboundOut(.end(nil)), promise: ended)
    if close {
      let channel = context.channel
      ended.futureResult.whenComplete { _ in channel.close(promise: nil) }
    }
    current = nil
    self.head = nil
    body = ByteBuffer()
  }
}
