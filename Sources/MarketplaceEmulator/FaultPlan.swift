import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Faults the tests ask for: the next `count` API calls answer `status`, or answer only after
/// `delay` (a marketplace that errs or hangs, then recovers), or do their work and then hold
/// the answer back (`answerDelayMilliseconds`: the call went through, its answer is late or lost;
/// `holdAnswer`: the same until the test sets the next plan, so that it decides what happens
/// meanwhile instead of racing a delay).
final class FaultPlan: Sendable {
  struct Fault: Decodable, Sendable {
    var count: Int
    var status: Int?
    var delayMilliseconds: Int?
    var answerDelayMilliseconds: Int?
    var holdAnswer: Bool?
    /// Only calls whose path contains this (e.g. "batchUsageEvent"); any call when absent.
    var path: String?
  }

  /// The plan, its number (each `set` makes a new one) and the answers held by the current one.
  private struct State {
    var fault: Fault?
    var plan = 0
    var held: [CheckedContinuation<Void, Never>] = []
  }

  private let state = Mutex(State())

  /// The next plan; answers held by the previous one go out.
  func set(_ fault: Fault) {
    let released = state.withLock { state in
      state.fault = fault.count > 0 ? fault : nil
      state.plan += 1
      defer { state.held = [] }
      return state.held
    }
    for answer in released { answer.resume() }
  }

  /// The fault for a call to `path`, if one is still owed, and the number of the plan it came from.
  func take(path: String) -> (fault: Fault, plan: Int)? {
    state.withLock { state in
      guard var current = state.fault, current.path.map({ path.contains($0) }) ?? true else {
        return nil
      }
      current.count -= 1
      state.fault = current.count > 0 ? current : nil
      return (current, state.plan)
    }
  }

  /// Returns once a plan after `plan` is set, at once if one already was (a test may set the
  /// next plan as soon as it sees the call's effect, before the call gets here to wait).
  func holdUntil(after plan: Int) async {
    await withCheckedContinuation { answer in
      let passed = state.withLock { state in
        if state.plan != plan { return true }
        state.held.append(answer)
        return false
      }
      if passed { answer.resume() }
    }
  }
}

/// Applies the fault plan to the marketplace API.
struct FaultMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  let plan: FaultPlan

  func handle(
    _ request: Request,
    context: Context,
    next: (Request, Context) async throws -> Response
  )
    async throws -> Response
  {
    guard let (fault, number) = plan.take(path: request.uri.path) else {
      return try await next(request, context)
    }
    if let delay = fault.delayMilliseconds { try await Task.sleep(for: .milliseconds(delay)) }
    if let status = fault.status {
      return EmulatorRoutes.refusal(
        .init(status: status, code: "InternalServerError", message: "injected fault")
      )
    }
    let response = try await next(request, context)
    if let delay = fault.answerDelayMilliseconds { try await Task.sleep(for: .milliseconds(delay)) }
    if fault.holdAnswer == true { await plan.holdUntil(after: number) }
    return response
  }
}
