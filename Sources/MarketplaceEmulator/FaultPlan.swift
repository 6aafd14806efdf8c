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

  private let pending = Mutex<Fault?>(nil)
  private let held = Mutex<[CheckedContinuation<Void, Never>]>([])

  /// The next plan; answers held by the previous one go out.
  func set(_ fault: Fault) {
    pending.withLock { $0 = fault.count > 0 ? fault : nil }
    for answer in held.withLock({ held in defer { held = [] }; return held }) { answer.resume() }
  }

  /// Returns when the next plan is set.
  func holdUntilNextPlan() async {
    await withCheckedContinuation { answer in held.withLock { $0.append(answer) } }
  }

  /// The fault for a call to `path`, if one is still owed.
  func take(path: String) -> Fault? {
    pending.withLock { fault in
      guard var current = fault, current.path.map({ path.contains($0) }) ?? true else { return nil }
      current.count -= 1
      fault = current.count > 0 ? current : nil
      return current
    }
  }
}

/// Applies the fault plan to the marketplace API.
struct FaultMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  let plan: FaultPlan

  func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
    async throws -> Response
  {
    guard let fault = plan.take(path: request.uri.path) else { return try await next(request, context) }
    if let delay = fault.delayMilliseconds { try await Task.sleep(for: .milliseconds(delay)) }
    if let status = fault.status {
      return EmulatorRoutes.refusal(.init(status: status, code: "InternalServerError", message: "injected fault"))
    }
    let response = try await next(request, context)
    if let delay = fault.answerDelayMilliseconds { try await Task.sleep(for: .milliseconds(delay)) }
    if fault.holdAnswer == true { await plan.holdUntilNextPlan() }
    return response
  }
}
