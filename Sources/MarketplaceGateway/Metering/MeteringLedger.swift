public import Foundation

/// Usage owed to the marketplace for one subscription, dimension and hour, as the billing
/// center rated it. The key is deterministic, so sending a record again can never bill twice.
public struct MeteringRecord: Sendable, Equatable {
  public enum Status: String, Sendable, CaseIterable {
    case pending, accepted, duplicate, rejected, parked

    /// The marketplace has it.
    public var isDelivered: Bool { self == .accepted || self == .duplicate }
  }

  public var key: String
  public var subscriptionID: String
  public var dimension: String
  /// The hour reported (the marketplace's effectiveStartTime).
  public var effectiveStartTime: Date
  /// Decimal text in the dimension's units, e.g. "2.5".
  public var quantity: String
  public var attempts: Int
  public var status: Status
  public var marketplaceStatus: String
  public var lastMessage: String
  /// The billing day it was rated from.
  public var day: String

  public init(
    key: String,
    subscriptionID: String,
    dimension: String,
    effectiveStartTime: Date,
    quantity: String,
    attempts: Int,
    status: Status,
    marketplaceStatus: String = "",
    lastMessage: String = "",
    day: String = ""
  ) {
    self.key = key
    self.subscriptionID = subscriptionID
    self.dimension = dimension
    self.effectiveStartTime = effectiveStartTime
    self.quantity = quantity
    self.attempts = attempts
    self.status = status
    self.marketplaceStatus = marketplaceStatus
    self.lastMessage = lastMessage
    self.day = day
  }
}

/// What became of one record at the marketplace.
public struct MeteringVerdict: Sendable, Equatable {
  public enum Outcome: Sendable, Equatable {
    /// Accepted or Duplicate: delivered.
    case accepted, duplicate
    /// Refused for good (Expired, ResourceNotActive, InvalidDimension, ...).
    case rejected
    /// Not delivered this time; stays pending.
    case retry
  }

  public var key: String
  public var outcome: Outcome
  public var marketplaceStatus: String
  public var message: String
}

/// The billing center's metering records, as the submitter and operators use them.
public protocol MeteringLedger: Sendable {
  func pendingRecords(limit: Int) async throws -> [MeteringRecord]
  /// Records in key order, after `afterKey` when given (paging).
  func records(
    status: MeteringRecord.Status?,
    day: String?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  )
    async throws -> [MeteringRecord]
  func record(_ verdicts: [MeteringVerdict]) async throws
  /// An operator's decision: send again (`resubmit`) or keep unsent (park).
  func dispose(key: String, resubmit: Bool, reason: String) async throws -> MeteringRecord
}
