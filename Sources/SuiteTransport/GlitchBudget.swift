import NIOCore

/// How many frames that move nothing forward a connection may send: empty DATA, WINDOW_UPDATE,
/// PING, SETTINGS, PRIORITY, RST_STREAM. Each costs the server a little (an answer, a lookup, a
/// wake-up) and none is a request or its bytes, so a flood of them is a cheap attack
/// (docs/RELIABILITY.md; nghttp2 and swift-nio-http2 count such "glitches" too). The budget is a
/// burst, refilled at a tenth of it per second and by one for each frame that does move
/// something (a new stream, request bytes): a busy client's pings and window updates never
/// run it out; a flood does, and its connection is sent GOAWAY (ENHANCE_YOUR_CALM).
struct GlitchBudget {
  private let burst: Double
  private var left: Double
  private var refilledAt: NIODeadline

  init(burst: Int, now: NIODeadline) {
    self.burst = Double(burst)
    left = Double(burst)
    refilledAt = now
  }

  /// A frame that moved something forward.
  mutating func progressed() {
    left = min(burst, left + 1)
  }

  /// A frame that moved nothing; false once the budget is spent.
  mutating func glitch(now: NIODeadline) -> Bool {
    let elapsed = Double(max(0, (now - refilledAt).nanoseconds)) / 1e9
    left = min(burst, left + elapsed * burst / 10)
    refilledAt = now
    guard left >= 1 else { return false }
    left -= 1
    return true
  }
}
