public import AccountKit
public import Foundation

/// A billing center account's company information (its rules are shared with the activation).
public typealias CompanyInfo = CompanyProfile

/// A billing center account: pays for workspaces, possibly on several sites.
public struct BillingAccount: Sendable, Equatable {
  public var id: UUID
  public var username: String
  public var email: String
  public var phone: String?
  public var company: CompanyInfo
  public var createdAt: Date
}

/// A new billing account's validated fields and password hash.
public struct NewBillingAccount: Sendable {
  public var username: String
  public var email: String
  public var phone: String?
  public var passwordHash: String
  public var company: CompanyInfo
  /// The caller's key for this registration; a retry with it finds the account.
  public var creationKey: String?
}

/// A marketplace identity: the purchaser's tenant and object id at a provider.
public struct CloudIdentity: Sendable, Hashable {
  public enum Provider: String, Sendable { case azure }

  public var provider: Provider
  public var tenantID: String
  public var objectID: String

  public init(provider: Provider, tenantID: String, objectID: String) {
    self.provider = provider
    self.tenantID = tenantID
    self.objectID = objectID
  }
}

/// A cloud account: a marketplace identity linked to exactly one billing account.
public struct CloudAccount: Sendable, Equatable {
  public var id: UUID
  public var identity: CloudIdentity
  public var billingAccountID: UUID
  public var subscriptionIDs: [String]
  public var linkedAt: Date
}

/// Who pays for a workspace.
public enum Settlement: Sendable, Hashable {
  /// The billing center account itself.
  case billingAccount
  /// A marketplace subscription of one of the account's cloud accounts (billed in USD).
  case cloudAccount(subscriptionID: String)

  public var method: String {
    switch self {
    case .billingAccount: "billing_account"
    case .cloudAccount: "cloud_account"
    }
  }

  public var subscriptionID: String? {
    if case .cloudAccount(let id) = self { return id }
    return nil
  }

  /// From the stored pair; nil for a pair the schema rules out.
  public init?(method: String, subscriptionID: String?) {
    switch (method, subscriptionID) {
    case ("billing_account", nil): self = .billingAccount
    case ("cloud_account", .some(let id)): self = .cloudAccount(subscriptionID: id)
    default: return nil
    }
  }
}

/// A workspace as the console describes it.
public struct DirectoryWorkspace: Sendable, Equatable {
  public enum Status: String, Sendable { case active, suspended, closed }

  public var id: UUID
  public var name: String
  public var site: String
  public var status: Status

  public init(id: UUID, name: String, site: String, status: Status) {
    self.id = id
    self.name = name
    self.site = site
    self.status = status
  }
}

/// A workspace's current binding to a billing account.
public struct WorkspaceBinding: Sendable, Equatable {
  public var workspaceID: UUID
  public var billingAccountID: UUID
  public var workspaceName: String
  public var site: String
  public var settlement: Settlement
  public var boundAt: Date
  /// From the console when listed; nil when not asked.
  public var status: DirectoryWorkspace.Status?
  /// When a cloud settlement ended with its cancelled subscription (listed as history).
  public var endedAt: Date? = nil
}

/// One usage measurement, validated.
public struct UsageEvent: Sendable {
  public var idempotencyKey: String
  public var workspaceID: UUID
  public var billingItem: String
  public var quantity: UsageQuantity
  public var usageTime: Date
}

/// What became of one usage event.
public enum UsageResult: Sendable, Equatable {
  case accepted
  /// Its key was recorded before: counted once, not again.
  case duplicate
}

/// One workspace's usage of one item on a day, summed, before rating.
public struct DayUsage: Sendable {
  public var billingAccountID: UUID?
  public var workspaceID: UUID
  public var site: String
  public var settlement: Settlement?
  public var billingItem: String
  public var quantity: Decimal
  /// Cloud-settled usage while its subscription was suspended: rated, not billed.
  public var duringSuspension: Bool = false
}

/// A rated bill line.
public struct BillLine: Sendable, Equatable {
  public var day: String
  public var billingAccountID: UUID?
  public var workspaceID: UUID
  public var site: String
  public var settlement: Settlement?
  public var billingItem: String
  public var quantity: Decimal
  public var unitSize: Int64
  public var unitPriceMicros: Int64
  public var amountMicros: Int64
  public var currency: String
  /// Why the line is not billed (its amount is then 0), e.g. "subscription_suspended".
  public var unbilledReason: String? = nil
}

/// One billing account's lines for one closed day.
public struct DailyBill: Sendable, Equatable {
  public var day: String
  public var lines: [BillLine]
  public var catalogVersion: String
  public var totalMicros: Int64 { lines.reduce(0) { $0 + $1.amountMicros } }
}

/// Usage owed to the marketplace: one subscription, one dimension, one hour.
public struct MeteringRecord: Sendable, Equatable {
  public var key: String
  public var subscriptionID: String
  public var dimension: String
  public var effectiveStartTime: Date
  public var quantity: Decimal
  public var attempts: Int
  public var status: Status = .pending
  /// The marketplace's last status for it ("Accepted", "Expired", ...).
  public var marketplaceStatus: String? = nil
  /// The marketplace's or an operator's last message about it.
  public var lastMessage: String? = nil
  /// The billing day it was rated from.
  public var day: String = ""
  public var updatedAt: Date? = nil

  public enum Status: String, Sendable, CaseIterable {
    case pending, accepted, duplicate, rejected, parked

    /// Accepted or Duplicate: the marketplace has it, and nothing may send it again.
    public var isDelivered: Bool { self == .accepted || self == .duplicate }
  }

  /// What an operator may do with a record.
  public enum Disposition: Sendable {
    /// Send again (same key: the marketplace answers Duplicate if it already has it).
    case resubmit
    /// Keep, never send.
    case park
  }

  /// The deterministic key: the same usage always gets the same key, so resubmitting it can
  /// never bill twice.
  public static func key(subscriptionID: String, dimension: String, hour: Date) -> String {
    "\(subscriptionID)/\(dimension)/\(hour.formatted(hourFormat))"
  }

  /// "2026-11-27T10:00:00Z": FoundationEssentials' style, not a formatter (and ICU) per key.
  private static let hourFormat = Date.ISO8601FormatStyle()
}

/// What the marketplace said about one metering record.
public struct MeteringAcknowledgement: Sendable {
  public enum Outcome: String, Sendable {
    case accepted, duplicate, rejected, retry
  }

  public var key: String
  public var outcome: Outcome
  public var marketplaceStatus: String
  public var message: String
}

/// What closing a day did.
public struct DayClosing: Sendable, Equatable {
  public var closedNow: Bool
  public var billLines: Int
  public var meteringRecords: Int
}

/// A marketplace subscription's standing as far as billing is concerned.
public enum CloudSubscriptionStatus: String, Sendable {
  case active, suspended
  /// Final: the cloud settlement of its workspaces has ended.
  case unsubscribed
}

/// What following a subscription's status did.
public struct SubscriptionStatusChange: Sendable, Equatable {
  public var changed: Bool
  public var status: CloudSubscriptionStatus
  /// Active or suspended: the workspaces settled through it now. Unsubscribed: those whose
  /// cloud settlement ended with it.
  public var workspaceIDs: [UUID]
}
