public import Foundation
public import MarketplaceClient

/// The billing center account a purchaser's cloud account is linked to.
public struct LinkedBillingAccount: Sendable, Equatable {
  public var id: UUID
  public var username: String

  public init(id: UUID, username: String) {
    self.id = id
    self.username = username
  }
}

/// A binding code on its way to a billing center account's email.
public struct BindingChallenge: Sendable, Equatable {
  public var challengeID: String
  public var maskedEmail: String
  public var resendAfterSeconds: Int

  public init(challengeID: String, maskedEmail: String, resendAfterSeconds: Int) {
    self.challengeID = challengeID
    self.maskedEmail = maskedEmail
    self.resendAfterSeconds = resendAfterSeconds
  }
}

/// A workspace a billing center account pays for, as the workspace step lists it.
public struct BindableWorkspace: Sendable, Equatable {
  public var id: String
  public var name: String
  public var site: String
  public var status: String

  public init(id: String, name: String, site: String, status: String) {
    self.id = id
    self.name = name
    self.site = site
    self.status = status
  }
}

/// Where the billing center keeps cloud-account links (billing-center, over gRPC). Its
/// refusals (wrong code, locked code, throttled) reach the caller as the billing center said.
public protocol BillingDirectory: Sendable {
  /// Nil when the identity is linked to no billing account.
  func linkedAccount(tenantID: String, objectID: String) async throws -> LinkedBillingAccount?
  /// Mails a binding code to the account with `username` (same answer for unknown ones).
  func startBinding(username: String) async throws -> BindingChallenge
  /// Redeems the code and links the purchaser's identity to that account.
  func confirmBinding(
    challengeID: String, code: String, username: String, tenantID: String, objectID: String,
    subscriptionID: String
  ) async throws -> LinkedBillingAccount
  /// The workspaces bound to a billing account.
  func workspaces(of billingAccountID: UUID) async throws -> [BindableWorkspace]
}

/// One activation as the activation pages see it.
public struct Activation: Sendable, Equatable {
  public enum State: Sendable, Equatable {
    case needsBillingAccount, needsWorkspace, activating, activated, closed
  }

  public enum Branch: Sendable, Equatable {
    case notLinked, alreadyLinked
  }

  public enum Step: Sendable, Equatable {
    case registerAndActivate, startBillingAccountBinding, confirmBillingAccountBinding
    case createWorkspace, bindWorkspace, logIn
  }

  public var sessionID: String
  public var state: State
  public var branch: Branch
  public var subscription: MarketplaceSubscription
  public var billingAccount: LinkedBillingAccount?
  public var expiresAt: Date
  /// A binding code has been sent and awaits confirmation.
  public var bindingPending = false

  /// What the pages may offer in this state (the seed's flow, step by step).
  public var nextSteps: [Step] {
    switch state {
    case .needsBillingAccount:
      [.registerAndActivate, .startBillingAccountBinding] + (bindingPending ? [.confirmBillingAccountBinding] : [])
    case .needsWorkspace: [.createWorkspace, .bindWorkspace]
    case .activating: []
    case .activated: [.logIn]
    case .closed: []
    }
  }

  /// The state a subscription's marketplace status and link imply.
  static func state(of subscription: MarketplaceSubscription, linked: Bool) -> State {
    switch subscription.status {
    case .subscribed, .suspended: .activated
    case .unsubscribed: .closed
    case .pendingFulfillmentStart, .notStarted, .other: linked ? .needsWorkspace : .needsBillingAccount
    }
  }
}

/// Why an activation call is refused.
public enum ActivationError: Error, Equatable {
  /// The marketplace refused the landing token (unknown, malformed or expired).
  case invalidMarketplaceToken
  case sessionNotFound
  /// The step is not allowed in the activation's current state.
  case notAllowed(step: String, state: Activation.State)
  case marketplaceUnavailable
  case billingCenterUnavailable
}
