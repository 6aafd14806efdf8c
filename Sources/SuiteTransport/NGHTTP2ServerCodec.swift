import CNGHTTP2
import NIOCore
import NIOHPACK
import NIOHTTP2

/// HTTP/2 for the suite's server transport on libnghttp2 (Debian's `libnghttp2`), in the
/// place of swift-nio-http2's `NIOHTTP2Handler`: the connection's bytes in, the same
/// `HTTP2Frame`s up to `SuiteConnectionHandler`, and its frames back out as bytes. Under load
/// swift-nio-http2's frame state machines, header validation and HPACK took about 45 % of the
/// server's CPU per unary RPC (`bench/results/grpc-changes.md`); nghttp2 does the same
/// protocol work (framing, HPACK, stream states, flow-control accounting, SETTINGS and PING
/// answers, header validation) in C.
///
/// What the connection handler sees is what it saw before, except that a stream reset by the
/// protocol (a malformed header block, say) arrives as an RST_STREAM frame rather than an
/// error. Frames the callbacks decode are passed on only once nghttp2 has returned, so the
/// handler's answers never re-enter nghttp2 while it parses.
final class NGHTTP2ServerCodec: ChannelDuplexHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = HTTP2Frame
  typealias OutboundIn = HTTP2Frame
  typealias OutboundOut = ByteBuffer

  /// What the server announces in its SETTINGS.
  struct Settings {
    var maxConcurrentStreams: Int
    var maxHeaderListSize: Int
    var initialWindowSize: Int
    /// Frames of no progress a connection may send at once (`GlitchBudget`).
    var maxGlitches: Int
    /// How long the connection's bytes may stay unsent (the client not reading) before it is closed.
    var writeStallTimeout: Duration
  }

  /// What is pulled from nghttp2 into one write: more waits until the socket has taken it.
  private static let writeChunk = 64 << 10

  /// A stream's response as nghttp2 pulls it: its DATA bytes not yet taken, and the trailers
  /// that follow them (nghttp2 would send HEADERS submitted later ahead of queued DATA).
  private struct Response {
    var pending: ByteBuffer
    var trailers: HPACKHeaders?
    /// The handler ended the response with DATA (END_STREAM) rather than trailers.
    var ended = false
    /// nghttp2 was told to wait for more (`NGHTTP2_ERR_DEFERRED`) and must be resumed.
    var deferred = false
    /// An RST_STREAM asked for once the response has gone out (the request was not finished).
    var resetAfterEnd: UInt32?
    /// The frame ending the response has been sent.
    var endSent = false
  }

  private let settings: Settings
  private var session: OpaquePointer?
  private var context: ChannelHandlerContext?
  private var decoded: [HTTP2Frame] = []
  /// The frames being passed on, kept between reads for its capacity.
  private var passing: [HTTP2Frame] = []
  /// The header block being received (HEADERS and its CONTINUATIONs come without others
  /// between them), and its size as SETTINGS_MAX_HEADER_LIST_SIZE counts it.
  private var headerBlock = HPACKHeaders()
  private var headerBlockSize = 0
  private var responses: [Int32: Response] = [:]
  private var glitches: GlitchBudget
  /// A read asked for while the socket would not take more (`read(context:)`), done once it does.
  private var readHeld = false
  /// Closes the connection if its socket stays full (`channelWritabilityChanged`).
  private var writeStall: Scheduled<Void>?

  init(settings: Settings) {
    self.settings = settings
    glitches = GlitchBudget(burst: settings.maxGlitches, now: .now())
  }

  // MARK: Connection

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    var option: OpaquePointer?
    guard nghttp2_option_new(&option) == 0, let option else { return context.close(promise: nil) }
    defer { nghttp2_option_del(option) }
    // Windows are given back as bytes are consumed, and nghttp2 sends the WINDOW_UPDATEs: a
    // stream's as its RPC reads (the connection handler's WINDOW_UPDATE frames, turned into
    // `nghttp2_session_consume_stream`), the connection's as DATA arrives (`dataReceived`).
    // nghttp2 itself counts padding, and DATA of streams already closed (which the handler
    // never sees), as consumed.
    nghttp2_option_set_no_auto_window_update(option, 1)
    nghttp2_option_set_no_closed_streams(option, 1)
    var session: OpaquePointer?
    guard
      nghttp2_session_server_new2(
        &session,
        Self.callbacks,
        Unmanaged.passUnretained(self).toOpaque(),
        option
      ) == 0,
      let session
    else { return context.close(promise: nil) }
    self.session = session
    var entries = [
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue),
        value: UInt32(settings.maxConcurrentStreams)
      ),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue),
        value: UInt32(settings.maxHeaderListSize)
      ),
      nghttp2_settings_entry(
        settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
        value: UInt32(settings.initialWindowSize)
      ),
    ]
    guard
      nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count)
        == 0
    else {
      return context.close(promise: nil)
    }
    if context.channel.isActive { sendPending(context: context) }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    if let session { nghttp2_session_del(session) }
    session = nil
    writeStall?.cancel()
    self.context = nil
  }

  // MARK: Back-pressure

  /// A client that sends (PINGs, SETTINGS, requests) and does not read its answers would make
  /// the server queue them without bound. While the socket will not take more, the connection
  /// is not read (its client is held back by TCP), what nghttp2 has to send stays with nghttp2
  /// (which ends a connection that piles up PING and SETTINGS answers: NGHTTP2_ERR_FLOODED),
  /// and a connection that stays so for the write-stall timeout is closed.
  func read(context: ChannelHandlerContext) {
    guard context.channel.isWritable else {
      readHeld = true
      return
    }
    context.read()
  }

  func channelWritabilityChanged(context: ChannelHandlerContext) {
    if context.channel.isWritable {
      writeStall?.cancel()
      writeStall = nil
      sendPending(context: context)
      if readHeld, context.channel.isWritable {
        readHeld = false
        context.read()
      }
    } else if writeStall == nil {
      let channel = context.channel
      writeStall = context.eventLoop.scheduleTask(in: .init(settings.writeStallTimeout)) {
        channel.close(promise: nil)
      }
    }
    context.fireChannelWritabilityChanged()
  }

  func channelActive(context: ChannelHandlerContext) {
    sendPending(context: context)
    context.fireChannelActive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard let session else { return }
    let bytes = unwrapInboundIn(data)
    let read = bytes.withUnsafeReadableBytes { raw in
      nghttp2_session_mem_recv(session, raw.bindMemory(to: UInt8.self).baseAddress, raw.count)
    }
    passDecoded(context: context)
    if read < 0 {
      // A connection error: nghttp2 has queued its GOAWAY.
      sendPending(context: context)
      context.close(promise: nil)
    }
  }

  func channelReadComplete(context: ChannelHandlerContext) {
    context.fireChannelReadComplete()
    // SETTINGS and PING answers, and whatever the handler wrote without flushing.
    sendPending(context: context)
  }

  // MARK: Frames out

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    let frame = unwrapOutboundIn(data)
    submit(frame)
    promise?.succeed(())
  }

  func flush(context: ChannelHandlerContext) {
    sendPending(context: context)
  }

  private func submit(_ frame: HTTP2Frame) {
    guard let session else { return }
    let id = Int32(frame.streamID)
    switch frame.payload {
    case .headers(let headers):
      if responses[id] != nil {
        // Trailers: after the DATA already queued.
        responses[id]?.trailers = headers.headers
        resume(id)
      } else if headers.endStream {
        // Kept until the stream closes, for an RST_STREAM that must follow it.
        responses[id] = Response(pending: ByteBuffer(), ended: true)
        let submitted = Self.withNameValues(headers.headers) { nva, count in
          nghttp2_submit_response(session, id, nva, count, nil)
        }
        if submitted < 0 { reset(id) }
      } else {
        responses[id] = Response(pending: ByteBuffer())
        var provider = nghttp2_data_provider(
          source: nghttp2_data_source(fd: 0),
          read_callback: Self.readResponse
        )
        let submitted = Self.withNameValues(headers.headers) { nva, count in
          nghttp2_submit_response(session, id, nva, count, &provider)
        }
        if submitted < 0 {
          responses[id] = nil
          reset(id)
        }
      }
    case .data(let data):
      guard case .byteBuffer(var bytes) = data.data, responses[id] != nil else { return }
      responses[id]?.pending.writeBuffer(&bytes)
      if data.endStream { responses[id]?.ended = true }
      resume(id)
    case .rstStream(let code):
      // After an answer, only once the answer has gone (nghttp2 would send it first).
      if let response = responses[id], !response.endSent {
        responses[id]?.resetAfterEnd = UInt32(code.networkCode)
      } else {
        nghttp2_submit_rst_stream(
          session,
          UInt8(NGHTTP2_FLAG_NONE.rawValue),
          id,
          UInt32(code.networkCode)
        )
      }
    case .windowUpdate(let increment):
      // The connection's window is the codec's own (`dataReceived`); a stream's, the handler's.
      guard id != 0 else { return }
      nghttp2_session_consume_stream(session, id, increment)
    case .goAway(let lastStreamID, let code, _):
      nghttp2_submit_goaway(
        session,
        UInt8(NGHTTP2_FLAG_NONE.rawValue),
        Int32(lastStreamID),
        UInt32(code.networkCode),
        nil,
        0
      )
    case .ping(let data, let ack):
      var opaque = data.integer.bigEndian
      withUnsafeBytes(of: &opaque) { raw in
        _ = nghttp2_submit_ping(
          session,
          UInt8((ack ? NGHTTP2_FLAG_ACK : NGHTTP2_FLAG_NONE).rawValue),
          raw.bindMemory(to: UInt8.self).baseAddress
        )
      }
    default:
      // SETTINGS are nghttp2's own; the handler sends nothing else.
      break
    }
  }

  /// Ends stream `id` with INTERNAL_ERROR: its response could not be submitted.
  private func reset(_ id: Int32) {
    guard let session else { return }
    nghttp2_submit_rst_stream(
      session,
      UInt8(NGHTTP2_FLAG_NONE.rawValue),
      id,
      NGHTTP2_INTERNAL_ERROR.rawValue
    )
  }

  private func resume(_ id: Int32) {
    guard let session, responses[id]?.deferred == true else { return }
    responses[id]?.deferred = false
    nghttp2_session_resume_data(session, id)
  }

  /// What nghttp2 has to send, in writes of up to `writeChunk` bytes, for as long as the
  /// socket takes them (the rest waits in nghttp2 for `channelWritabilityChanged`).
  private func sendPending(context: ChannelHandlerContext) {
    guard let session else { return }
    var more = true
    while more && context.channel.isWritable {
      var out: ByteBuffer?
      while true {
        var chunk: UnsafePointer<UInt8>?
        let count = nghttp2_session_mem_send(session, &chunk)
        if count < 0 {
          context.close(promise: nil)
          return
        }
        guard count > 0, let chunk else {
          more = false
          break
        }
        let bytes = UnsafeRawBufferPointer(start: chunk, count: count)
        if out == nil {
          out = context.channel.allocator.buffer(capacity: Swift.max(count, 4096))
        }
        out?.writeBytes(bytes)
        if let written = out?.readableBytes, written >= Self.writeChunk { break }
      }
      guard let out else { break }
      context.write(wrapOutboundOut(out), promise: nil)
      context.flush()
    }
    // Frames decoded while sending (a stream nghttp2 closed): passed on after this turn, as
    // the connection handler may be the one flushing.
    if !decoded.isEmpty {
      let codec = NIOLoopBound(self, eventLoop: context.eventLoop)
      context.eventLoop.execute {
        guard let context = codec.value.context else { return }
        codec.value.passDecoded(context: context)
      }
    }
    if nghttp2_session_want_read(session) == 0 && nghttp2_session_want_write(session) == 0 {
      context.close(promise: nil)
    }
  }

  private func passDecoded(context: ChannelHandlerContext) {
    guard !decoded.isEmpty else { return }
    swap(&decoded, &passing)
    for frame in passing { context.fireChannelRead(wrapInboundOut(frame)) }
    passing.removeAll(keepingCapacity: true)
  }

  // MARK: nghttp2's callbacks

  private static func codec(_ userData: UnsafeMutableRawPointer?) -> NGHTTP2ServerCodec? {
    userData.map { Unmanaged<NGHTTP2ServerCodec>.fromOpaque($0).takeUnretainedValue() }
  }

  private func beginHeaders() {
    headerBlock = HPACKHeaders()
    headerBlock.reserveCapacity(12)
    headerBlockSize = 0
  }

  private func header(
    name: UnsafeBufferPointer<UInt8>,
    value: UnsafeBufferPointer<UInt8>,
    flags: UInt8,
    ofRequest: Bool
  ) -> Int32 {
    // RFC 9113 §6.5.2: each field counts its name, its value and 32 bytes.
    headerBlockSize += name.count + value.count + 32
    guard headerBlockSize <= settings.maxHeaderListSize else {
      // A request's block over the limit is answered once it ends (`frameReceived`); its
      // fields are dropped as they come, so it holds no memory while nghttp2 keeps decoding
      // (HPACK's table must stay in step). Trailers over it reset their stream.
      guard ofRequest else { return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue }
      headerBlock = HPACKHeaders()
      return 0
    }
    let indexing: HPACKIndexing =
      flags & UInt8(NGHTTP2_NV_FLAG_NO_INDEX.rawValue) != 0 ? .neverIndexed : .indexable
    headerBlock.add(
      name: String(decoding: name, as: UTF8.self),
      value: String(decoding: value, as: UTF8.self),
      indexing: indexing
    )
    return 0
  }

  private func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
    let header = frame.pointee.hd
    let streamID = HTTP2StreamID(Int(header.stream_id))
    let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    count(frame)
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue:
      guard headerBlockSize <= settings.maxHeaderListSize else {
        return refuseOversizedRequest(header.stream_id, endStream: endStream)
      }
      decoded.append(
        HTTP2Frame(
          streamID: streamID,
          payload: .headers(.init(headers: headerBlock, endStream: endStream))
        )
      )
    case NGHTTP2_DATA.rawValue:
      if endStream {
        decoded.append(
          HTTP2Frame(
            streamID: streamID,
            payload: .data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))
          )
        )
      }
    case NGHTTP2_RST_STREAM.rawValue:
      decoded.append(
        HTTP2Frame(
          streamID: streamID,
          payload: .rstStream(HTTP2ErrorCode(networkCode: Int(frame.pointee.rst_stream.error_code)))
        )
      )
    case NGHTTP2_SETTINGS.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0:
      // The settings are nghttp2's to apply; the handler learns the handshake is done.
      decoded.append(HTTP2Frame(streamID: .rootStream, payload: .settings(.settings([]))))
    case NGHTTP2_PING.rawValue where header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0:
      decoded.append(
        HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 0), ack: true))
      )
    default:
      break
    }
  }

  /// Spends the glitch budget on a frame of no progress, refills it with one of progress; a
  /// connection that spends it all is sent GOAWAY (ENHANCE_YOUR_CALM) and closed once it has
  /// gone (nghttp2 then wants neither to read nor to write: `sendPending`).
  private func count(_ frame: UnsafePointer<nghttp2_frame>) {
    let header = frame.pointee.hd
    let ack = header.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
    let progress: Bool
    switch UInt32(header.type) {
    case NGHTTP2_HEADERS.rawValue: progress = true
    case NGHTTP2_DATA.rawValue:
      progress = header.length > 0 || header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    case NGHTTP2_WINDOW_UPDATE.rawValue, NGHTTP2_PRIORITY.rawValue, NGHTTP2_RST_STREAM.rawValue:
      progress = false
    case NGHTTP2_PING.rawValue, NGHTTP2_SETTINGS.rawValue:
      // An acknowledgement answers the server's own frame.
      guard !ack else { return }
      progress = false
    default: return
    }
    if progress {
      glitches.progressed()
    } else if !glitches.glitch(now: .now()), let session {
      nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
    }
  }

  /// A request whose metadata is over SETTINGS_MAX_HEADER_LIST_SIZE gets RESOURCE_EXHAUSTED in
  /// a trailers-only response, as gRPC's own servers answer it (a reset would reach the caller
  /// as INTERNAL, a fault of the server's). The connection handler never sees the stream; an
  /// RST_STREAM (NO_ERROR) follows the answer when the client has not finished sending.
  private func refuseOversizedRequest(_ id: Int32, endStream: Bool) {
    guard let session else { return }
    responses[id] = Response(
      pending: ByteBuffer(),
      ended: true,
      resetAfterEnd: endStream ? nil : NGHTTP2_NO_ERROR.rawValue
    )
    let answer: HPACKHeaders = [
      ":status": "200", "content-type": "application/grpc", "grpc-status": "8",
      "grpc-message": "request metadata over the limit of \(settings.maxHeaderListSize) bytes",
    ]
    let submitted = Self.withNameValues(answer) { nva, count in
      nghttp2_submit_response(session, id, nva, count, nil)
    }
    if submitted < 0 {
      responses[id] = nil
      reset(id)
    }
  }

  private func dataReceived(streamID: Int32, bytes: UnsafeBufferPointer<UInt8>) {
    // The connection's window: one slow stream must not stall the others, so it is given back
    // as bytes arrive; a stream's waits for its RPC to read (the handler).
    if let session { nghttp2_session_consume_connection(session, bytes.count) }
    var buffer = context?.channel.allocator.buffer(capacity: bytes.count) ?? ByteBuffer()
    buffer.writeBytes(bytes)
    decoded.append(
      HTTP2Frame(
        streamID: HTTP2StreamID(Int(streamID)),
        payload: .data(.init(data: .byteBuffer(buffer), endStream: false))
      )
    )
  }

  private func streamClosed(_ id: Int32, errorCode: UInt32) {
    responses[id] = nil
    // Closed by the protocol (nghttp2 reset it), not by an answer or the client's reset,
    // which the handler already knows of.
    if errorCode != NGHTTP2_NO_ERROR.rawValue {
      decoded.append(
        HTTP2Frame(
          streamID: HTTP2StreamID(Int(id)),
          payload: .rstStream(HTTP2ErrorCode(networkCode: Int(errorCode)))
        )
      )
    }
  }

  private func frameSent(_ frame: UnsafePointer<nghttp2_frame>) {
    let header = frame.pointee.hd
    guard header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0,
      responses[header.stream_id] != nil
    else { return }
    responses[header.stream_id]?.endSent = true
    guard let code = responses[header.stream_id]?.resetAfterEnd, let session else { return }
    responses[header.stream_id]?.resetAfterEnd = nil
    nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), header.stream_id, code)
  }

  /// Copies up to `length` bytes of stream `id`'s response into `buffer`; after the last,
  /// its trailers (or the end of the stream); with nothing yet, asks nghttp2 to wait.
  private func read(
    _ id: Int32,
    into buffer: UnsafeMutablePointer<UInt8>,
    length: Int,
    flags: UnsafeMutablePointer<UInt32>
  )
    -> Int
  {
    guard var response = responses[id], let session else {
      flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
      return 0
    }
    let count = Swift.min(length, response.pending.readableBytes)
    response.pending.readWithUnsafeReadableBytes { raw in
      if count > 0, let base = raw.baseAddress {
        buffer.update(from: base.assumingMemoryBound(to: UInt8.self), count: count)
      }
      return count
    }
    if response.pending.readableBytes == 0 {
      if let trailers = response.trailers {
        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
        response.trailers = nil
        let submitted = Self.withNameValues(trailers) { nva, count in
          nghttp2_submit_trailer(session, id, nva, count)
        }
        // A stream must not stay open without its end: reset it when its trailers cannot go.
        // (nghttp2_submit_trailer answers the stream's id when it succeeds, not 0.)
        if submitted < 0 { reset(id) }
      } else if response.ended {
        flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
      } else if count == 0 {
        response.deferred = true
        responses[id] = response
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
      }
      response.pending.clear()
    }
    responses[id] = response
    return count
  }

  private static let readResponse: nghttp2_data_source_read_callback = {
    _,
    streamID,
    buffer,
    length,
    flags,
    _,
    userData in
    guard let codec = codec(userData), let buffer, let flags else {
      return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    }
    return codec.read(streamID, into: buffer, length: length, flags: flags)
  }

  /// One set of callbacks for every session (nghttp2 copies it).
  nonisolated(unsafe) private static let callbacks: OpaquePointer? = {
    var callbacks: OpaquePointer?
    guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { return nil }
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks) { _, _, userData in
      codec(userData)?.beginHeaders()
      return 0
    }
    nghttp2_session_callbacks_set_on_header_callback(callbacks) {
      _,
      frame,
      name,
      nameLength,
      value,
      valueLength,
      flags,
      userData in
      guard let codec = codec(userData) else { return NGHTTP2_ERR_CALLBACK_FAILURE.rawValue }
      return codec.header(
        name: UnsafeBufferPointer(start: name, count: nameLength),
        value: UnsafeBufferPointer(start: value, count: valueLength),
        flags: flags,
        ofRequest: frame?.pointee.headers.cat == NGHTTP2_HCAT_REQUEST
      )
    }
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, userData in
      if let frame { codec(userData)?.frameReceived(frame) }
      return 0
    }
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks) {
      _,
      _,
      streamID,
      data,
      length,
      userData in
      codec(userData)?.dataReceived(
        streamID: streamID,
        bytes: UnsafeBufferPointer(start: data, count: length)
      )
      return 0
    }
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks) {
      _,
      streamID,
      errorCode,
      userData in
      codec(userData)?.streamClosed(streamID, errorCode: errorCode)
      return 0
    }
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks) { _, frame, userData in
      if let frame { codec(userData)?.frameSent(frame) }
      return 0
    }
    return callbacks
  }()

  /// `headers` as nghttp2's name-value pairs (which it copies), in scratch memory on the stack
  /// (this runs twice per RPC).
  private static func withNameValues<Result>(
    _ headers: HPACKHeaders,
    _ body: (UnsafePointer<nghttp2_nv>?, Int) -> Result
  ) -> Result {
    var size = 1  // never zero: the base addresses below exist
    for (name, value, _) in headers { size += name.utf8.count + value.utf8.count }
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { bytes in
      withUnsafeTemporaryAllocation(of: nghttp2_nv.self, capacity: Swift.max(headers.count, 1)) {
        fields in
        var offset = 0
        var count = 0
        for (name, value, indexing) in headers {
          let nameStart = offset
          for byte in name.utf8 {
            bytes[offset] = byte
            offset += 1
          }
          let valueStart = offset
          for byte in value.utf8 {
            bytes[offset] = byte
            offset += 1
          }
          let flags = indexing == .indexable ? NGHTTP2_NV_FLAG_NONE : NGHTTP2_NV_FLAG_NO_INDEX
          fields.initializeElement(
            at: count,
            to: nghttp2_nv(
              name: bytes.baseAddress.map { $0 + nameStart },
              value: bytes.baseAddress.map { $0 + valueStart },
              namelen: valueStart - nameStart,
              valuelen: offset - valueStart,
              flags: UInt8(flags.rawValue)
            )
          )
          count += 1
        }
        defer { fields.baseAddress.map { _ = $0.deinitialize(count: count) } }
        return body(fields.baseAddress, count)
      }
    }
  }
}
