import Foundation

/// The marketplace's JSON shapes (docs/azure-saas-contract.md §3–4), field names as Microsoft
/// spells them.
public enum MarketplaceJSON {
  public struct Identity: Codable, Sendable, Equatable {
    public var emailId: String
    public var objectId: String
    public var tenantId: String
    public var puid: String
  }

  public struct Term: Codable, Sendable, Equatable {
    public var termUnit: String
    public var startDate: String
    public var endDate: String
    public var chargeDuration: String?
  }

  public struct Subscription: Codable, Sendable, Equatable {
    public var id: String
    public var publisherId: String
    public var offerId: String
    public var name: String
    public var saasSubscriptionStatus: String
    public var planId: String
    public var quantity: Int?
    public var beneficiary: Identity
    public var purchaser: Identity
    public var term: Term
    public var autoRenew: Bool
    public var isTest: Bool
    public var isFreeTrial: Bool
    public var allowedCustomerOperations: [String]
    public var sessionMode: String
    public var sandboxType: String
    public var created: String
    public var lastModified: String
  }

  public struct ResolvedSubscription: Codable, Sendable {
    public var id: String
    public var subscriptionName: String
    public var offerId: String
    public var planId: String
    public var quantity: Int?
    public var subscription: Subscription
  }

  public struct SubscriptionPage: Codable, Sendable {
    public var subscriptions: [Subscription]
    public var nextLink: String?

    enum CodingKeys: String, CodingKey {
      case subscriptions
      case nextLink = "@nextLink"
    }
  }

  public struct Plan: Codable, Sendable {
    public var planId: String
    public var displayName: String
    public var isPrivate: Bool
    public var description: String
    public var minQuantity: Int?
    public var maxQuantity: Int?
    public var hasFreeTrials: Bool
    public var isPricePerSeat: Bool
    public var isStopSell: Bool
    public var market: String
  }

  public struct Plans: Codable, Sendable {
    public var plans: [Plan]
  }

  public struct Operation: Codable, Sendable, Equatable {
    public var id: String
    public var activityId: String
    public var subscriptionId: String
    public var offerId: String
    public var publisherId: String
    public var planId: String
    public var quantity: Int?
    public var action: String
    public var timeStamp: String
    public var status: String
    public var operationRequestSource: String
  }

  public struct Operations: Codable, Sendable {
    public var operations: [Operation]
  }

  /// Body of Activate and of a PATCH: plan and/or quantity (quantity may come as a string).
  public struct PlanAndQuantity: Decodable, Sendable {
    public var planId: String?
    public var quantity: Int?

    enum CodingKeys: String, CodingKey { case planId, quantity }

    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      planId = try container.decodeIfPresent(String.self, forKey: .planId)
      if let number = try? container.decodeIfPresent(Int.self, forKey: .quantity) {
        quantity = number
      } else if let text = try? container.decodeIfPresent(String.self, forKey: .quantity) {
        quantity = Int(text.trimmingCharacters(in: .whitespaces))
      } else {
        quantity = nil
      }
    }
  }

  /// `{"error": {"code": "...", "message": "..."}}`.
  public struct ErrorBody: Codable, Sendable {
    public struct Detail: Codable, Sendable {
      public var code: String
      public var message: String
    }
    public var error: Detail
  }

  /// The emulator's own answer to "create a purchase".
  public struct Purchase: Codable, Sendable {
    public var subscriptionId: String
    public var token: String
    public var landingUrl: String
  }

  public struct PurchaseRequest: Decodable, Sendable {
    public var planId: String?
    public var quantity: Int?
    public var name: String?
    public var purchaser: Identity?
    public var beneficiary: Identity?
    public var termUnit: String?
    /// Emulator only: how long the landing token lives (tests of expired tokens).
    public var tokenLifetimeSeconds: Double?
  }

  public struct EventRequest: Decodable, Sendable {
    public var action: String?
    public var planId: String?
    public var quantity: Int?
    /// Emulator only: send an action the contract does not name (Microsoft adds actions
    /// without notice); it is recorded Succeeded and changes nothing.
    public var unknownAction: Bool?
  }

  public struct OperationUpdate: Decodable, Sendable {
    public var status: String?
  }

  public struct UsageBatch: Decodable, Sendable {
    public var request: [EmulatorStore.UsageEventRequest]
  }

  /// ISO 8601 with fractional seconds, as the marketplace writes timestamps.
  static func timestamp(_ date: Date) -> String {
    // FoundationEssentials' style: ISO8601DateFormatter goes through ICU on every call.
    date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
  }
}

/// Any encodable value, for JSON bodies of mixed shape.
public struct AnyEncodable: Encodable, @unchecked Sendable {
  private let encodeValue: (any Encoder) throws -> Void

  public init(_ value: some Encodable) {
    encodeValue = { try value.encode(to: $0) }
  }

  /// A value read from the database: numbers, strings and booleans.
  public init(databaseValue value: any Sendable) {
    switch value {
    case let value as String: self.init(value)
    case let value as Int: self.init(value)
    case let value as Double: self.init(value)
    case let value as Bool: self.init(value)
    default: self.init(String(describing: value))
    }
  }

  public func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
