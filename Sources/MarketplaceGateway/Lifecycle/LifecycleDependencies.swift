public import Foundation

/// Where the billing center stands on a subscription, as the lifecycle tells it.
public enum SettlementStatus: String, Sendable {
  case active, suspended, unsubscribed
}

/// What the billing center made of a status: the status the subscription now has there
/// (Unsubscribed is final) and the workspaces it applies to.
public struct SettlementOutcome: Sendable, Equatable {
  public var status: SettlementStatus
  public var workspaceIDs: [String]

  public init(status: SettlementStatus, workspaceIDs: [String]) {
    self.status = status
    self.workspaceIDs = workspaceIDs
  }
}

/// The billing center's side of a subscription's lifecycle.
public protocol SubscriptionSettlements: Sendable {
  /// Tells the billing center the subscription's status from `at` on; nil when the billing
  /// center has never seen the subscription (nothing was ever settled through it).
  func follow(
    subscriptionID: String,
    status: SettlementStatus,
    at: Date
  ) async throws -> SettlementOutcome?
}

/// Another service refused a lifecycle step for good (bad input, wrong state): retrying the
/// same step cannot succeed, so the operation ends as failed for an operator to look at.
public struct DependencyRefused: Error, Equatable, CustomStringConvertible {
  public var service: String
  public var reason: String

  public init(service: String, reason: String) {
    self.service = service
    self.reason = reason
  }

  public var description: String { "\(service) refused: \(reason)" }
}

/// What a workspace may be told by the lifecycle.
public enum WorkspaceState: String, Sendable {
  case active, suspended
}

/// The console's side: workspaces suspended and reinstated with their subscription.
public protocol WorkspaceStatuses: Sendable {
  /// Idempotent; a workspace the console has closed meanwhile is left as it is.
  func set(workspaceID: String, to state: WorkspaceState, reason: String) async throws
}
