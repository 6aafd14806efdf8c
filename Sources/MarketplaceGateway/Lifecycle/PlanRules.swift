import Foundation
public import MarketplaceClient

/// Which plan and quantity changes the suite accepts when the marketplace asks (ChangePlan,
/// ChangeQuantity): the plans Guance sells and their seat limits.
public struct PlanRules: Sendable, Equatable {
  public struct Plan: Sendable, Equatable {
    public var id: String
    /// Nil for plans that are not priced per seat.
    public var seats: ClosedRange<Int>?
  }

  public var plans: [String: Plan]

  /// The Guance Commercial Plan offer: pay as you go, or per seat (1 to 1,000).
  public static let guance = PlanRules(plans: [
    "commercial": Plan(id: "commercial", seats: nil),
    "commercial-seats": Plan(id: "commercial-seats", seats: 1...1000),
  ])

  public init(plans: [String: Plan]) {
    self.plans = plans
  }

  /// "commercial,commercial-seats:1-1000": plan ids, per-seat ones with their seat range.
  public init?(parsing text: String) {
    var plans: [String: Plan] = [:]
    for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
    where !entry.isEmpty {
      let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
      var seats: ClosedRange<Int>?
      if parts.count == 2 {
        let bounds = parts[1].split(separator: "-").compactMap { Int($0) }
        guard bounds.count == 2, bounds[0] >= 1, bounds[0] <= bounds[1] else { return nil }
        seats = bounds[0]...bounds[1]
      }
      plans[parts[0]] = Plan(id: parts[0], seats: seats)
    }
    guard !plans.isEmpty else { return nil }
    self.plans = plans
  }

  public struct Decision: Sendable, Equatable {
    public var accepted: Bool
    public var reason: String
  }

  /// Whether to accept the marketplace's `operation` on `current`. A change back to the
  /// current plan is a revert and is always accepted.
  public func decide(
    _ operation: MarketplaceOperation,
    current: MarketplaceSubscription
  ) -> Decision {
    switch operation.action {
    case "ChangePlan":
      if operation.planID == current.planID {
        return Decision(accepted: true, reason: "a revert to the current plan \(current.planID)")
      }
      guard let plan = plans[operation.planID] else {
        return Decision(accepted: false, reason: "plan \(operation.planID) is not sold by Guance")
      }
      return seatsAllowed(operation.quantity, on: plan)
    case "ChangeQuantity":
      guard let plan = plans[operation.planID.isEmpty ? current.planID : operation.planID] else {
        return Decision(accepted: false, reason: "plan \(current.planID) is not sold by Guance")
      }
      guard plan.seats != nil else {
        return Decision(accepted: false, reason: "plan \(plan.id) is not priced per seat")
      }
      guard operation.quantity != nil else {
        return Decision(accepted: false, reason: "no quantity was given")
      }
      return seatsAllowed(operation.quantity, on: plan)
    default:
      return Decision(
        accepted: false,
        reason: "\(operation.action) is not a plan or quantity change"
      )
    }
  }

  private func seatsAllowed(_ quantity: Int?, on plan: Plan) -> Decision {
    guard let seats = plan.seats, let quantity else {
      return Decision(accepted: true, reason: "plan \(plan.id)")
    }
    guard seats.contains(quantity) else {
      return Decision(
        accepted: false,
        reason:
          "\(quantity) seats is outside plan \(plan.id)'s \(seats.lowerBound) to \(seats.upperBound)"
      )
    }
    return Decision(accepted: true, reason: "plan \(plan.id) with \(quantity) seats")
  }
}
