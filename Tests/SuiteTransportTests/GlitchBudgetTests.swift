import NIOCore
import Testing

@testable import SuiteTransport

@Suite("The budget of frames that move nothing")
struct GlitchBudgetTests {
  /// How many of `count` frames of no progress at `now` the budget allows.
  static func allowed(_ count: Int, of budget: inout GlitchBudget, at now: NIODeadline) -> Int {
    (0..<count).filter { _ in budget.glitch(now: now) }.count
  }

  @Test("a burst is allowed, refilled at a tenth of it per second and by frames of progress")
  func budget() {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    var budget = GlitchBudget(burst: 10, now: start)
    #expect(Self.allowed(11, of: &budget, at: start) == 10)
    // One second later, one more (a tenth of 10 per second); an hour later, never more than the burst.
    #expect(Self.allowed(2, of: &budget, at: start + .seconds(1)) == 1)
    #expect(Self.allowed(20, of: &budget, at: start + .seconds(3600)) == 10)

    // Each frame of progress pays for one.
    var busy = GlitchBudget(burst: 10, now: start)
    var spent = 0
    for _ in 0..<1000 {
      busy.progressed()
      spent += Self.allowed(1, of: &busy, at: start)
    }
    #expect(spent == 1000)
  }
}
