public import Foundation

/// Where the billing center stands on a subscription, as the lifecycle tells it.
public enum SettlementStatus: String, Sendable {
  case active, suspended, unsubscribed
}

/// The billing center's side of a subscription's lifecycle.
public protocol SubscriptionSettlements: Sendable {
  /// Tells the billing center the subscription's status from `at` on. Returns the workspaces
  /// the status applies to, or nil when the billing center has never seen the subscription
  /// (nothing was ever settled through it).
  func follow(subscriptionID: String, status: SettlementStatus, at: Date) async throws -> [String]?
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
