public import Foundation

/// A purchaser or beneficiary at the marketplace.
public struct MarketplaceIdentity: Sendable, Equatable {
  public var email: String
  public var objectID: String
  public var tenantID: String

  public init(email: String, objectID: String, tenantID: String) {
    self.email = email
    self.objectID = objectID
    self.tenantID = tenantID
  }
}

/// Where a marketplace subscription stands (docs/azure-saas-contract.md §7). Unknown values are
/// kept, not rejected: Microsoft adds states without notice.
public enum MarketplaceSubscriptionStatus: Sendable, Equatable {
  case notStarted
  case pendingFulfillmentStart
  case subscribed
  case suspended
  case unsubscribed
  case other(String)

  /// Trimmed first: the docs show values padded with spaces.
  public init(_ raw: String) {
    switch raw.trimmingCharacters(in: .whitespacesAndNewlines) {
    case "NotStarted": self = .notStarted
    case "PendingFulfillmentStart": self = .pendingFulfillmentStart
    case "Subscribed": self = .subscribed
    case "Suspended": self = .suspended
    case "Unsubscribed": self = .unsubscribed
    case let other: self = .other(other)
    }
  }

  /// The marketplace's own name for the status.
  public var name: String {
    switch self {
    case .notStarted: "NotStarted"
    case .pendingFulfillmentStart: "PendingFulfillmentStart"
    case .subscribed: "Subscribed"
    case .suspended: "Suspended"
    case .unsubscribed: "Unsubscribed"
    case .other(let raw): raw
    }
  }
}

/// A SaaS subscription as the marketplace describes it.
public struct MarketplaceSubscription: Sendable, Equatable {
  public var id: String
  public var name: String
  public var offerID: String
  public var planID: String
  /// Nil for plans that are not priced per seat.
  public var quantity: Int?
  public var status: MarketplaceSubscriptionStatus
  public var purchaser: MarketplaceIdentity
  public var beneficiary: MarketplaceIdentity
  /// An open string: P1M, P1Y, ..., PAY and whatever comes next.
  public var termUnit: String
  public var termStart: Date?
  public var termEnd: Date?
  public var autoRenew: Bool
  public var isTest: Bool

  public init(
    id: String,
    name: String,
    offerID: String,
    planID: String,
    quantity: Int?,
    status: MarketplaceSubscriptionStatus,
    purchaser: MarketplaceIdentity,
    beneficiary: MarketplaceIdentity,
    termUnit: String,
    termStart: Date?,
    termEnd: Date?,
    autoRenew: Bool,
    isTest: Bool
  ) {
    self.id = id
    self.name = name
    self.offerID = offerID
    self.planID = planID
    self.quantity = quantity
    self.status = status
    self.purchaser = purchaser
    self.beneficiary = beneficiary
    self.termUnit = termUnit
    self.termStart = termStart
    self.termEnd = termEnd
    self.autoRenew = autoRenew
    self.isTest = isTest
  }
}

/// What resolving a landing token gives.
public struct ResolvedSubscription: Sendable, Equatable {
  public var subscriptionID: String
  public var subscriptionName: String
  public var offerID: String
  public var planID: String
  public var quantity: Int?
  public var subscription: MarketplaceSubscription
}

/// An operation on a subscription (a change, a suspension, ...).
public struct MarketplaceOperation: Sendable, Equatable {
  public var id: String
  public var subscriptionID: String
  public var action: String
  public var planID: String
  public var quantity: Int?
  /// NotStarted, InProgress, Succeeded, Failed, Conflict (trimmed).
  public var status: String
  public var requestSource: String?

  public init(
    id: String,
    subscriptionID: String,
    action: String,
    planID: String,
    quantity: Int?,
    status: String,
    requestSource: String?
  ) {
    self.id = id
    self.subscriptionID = subscriptionID
    self.action = action
    self.planID = planID
    self.quantity = quantity
    self.status = status
    self.requestSource = requestSource
  }
}

/// One metered usage event for the marketplace.
public struct MarketplaceUsageEvent: Sendable, Equatable {
  public var resourceID: String
  public var dimension: String
  public var quantity: Double
  public var effectiveStartTime: Date
  public var planID: String

  public init(
    resourceID: String,
    dimension: String,
    quantity: Double,
    effectiveStartTime: Date,
    planID: String
  ) {
    self.resourceID = resourceID
    self.dimension = dimension
    self.quantity = quantity
    self.effectiveStartTime = effectiveStartTime
    self.planID = planID
  }
}

/// The marketplace's verdict on one usage event.
public struct MarketplaceUsageResult: Sendable, Equatable {
  /// Accepted, Duplicate, Expired, ResourceNotActive, InvalidDimension, ...
  public var status: String
  public var message: String?
  public var usageEventID: String?

  /// Accepted and Duplicate both mean the marketplace has the usage.
  public var isDelivered: Bool { status == "Accepted" || status == "Duplicate" }
}

/// The marketplace's record of one day's usage of one resource and dimension (GET usageEvents).
public struct MarketplaceUsageSummary: Sendable, Equatable {
  /// "YYYY-MM-DD" (UTC).
  public var usageDate: String
  public var resourceID: String
  public var dimension: String
  public var submittedQuantity: Double
}
