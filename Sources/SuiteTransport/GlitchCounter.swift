import NIOCore
import NIOHTTP2

/// The glitch budget (`GlitchBudget`) for the suite's transport on swift-nio-http2, which the
/// libnghttp2 codec keeps itself: frames that move nothing (empty DATA, WINDOW_UPDATE,
/// PRIORITY, RST_STREAM, PING and SETTINGS other than acknowledgements) spend it, a request's
/// HEADERS and bytes refill it, and a connection that spends it all is sent GOAWAY
/// (ENHANCE_YOUR_CALM) and closed. swift-nio-http2 counts only stream errors as glitches, and
/// passes every frame it accepts on to this handler, which sits just after it.
final class GlitchCounter: ChannelInboundHandler {
  typealias InboundIn = HTTP2Frame
  typealias InboundOut = HTTP2Frame
  typealias OutboundOut = HTTP2Frame

  private var budget: GlitchBudget
  private var lastStreamID = HTTP2StreamID.rootStream
  private var spent = false

  init(maxGlitches: Int) {
    budget = GlitchBudget(burst: maxGlitches, now: .now())
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !spent else { return }
    let frame = unwrapInboundIn(data)
    let progress: Bool
    switch frame.payload {
    case .headers:
      lastStreamID = max(lastStreamID, frame.streamID)
      progress = true
    case .data(let body):
      progress = body.data.readableBytes > 0 || body.endStream
    case .windowUpdate, .priority, .rstStream:
      progress = false
    case .ping(_, ack: true), .settings(.ack):
      // An acknowledgement answers the server's own frame.
      context.fireChannelRead(data)
      return
    case .ping, .settings:
      progress = false
    default:
      context.fireChannelRead(data)
      return
    }
    if progress {
      budget.progressed()
    } else if !budget.glitch(now: .now()) {
      spent = true
      let goAway = HTTP2Frame(
        streamID: .rootStream,
        payload: .goAway(lastStreamID: lastStreamID, errorCode: .enhanceYourCalm, opaqueData: nil)
      )
      let channel = context.channel
      context.writeAndFlush(wrapOutboundOut(goAway)).whenComplete { _ in
        channel.close(promise: nil)
      }
      return
    }
    context.fireChannelRead(data)
  }
}
