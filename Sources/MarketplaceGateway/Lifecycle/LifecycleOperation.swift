public import Foundation
import SuiteErrors

/// An operation on a subscription the gateway has to follow: a plan or quantity change, a
/// renewal, suspension, reinstatement or cancellation (docs/azure-saas-contract.md §4–5).
public struct LifecycleOperation: Sendable, Equatable {
  /// How the gateway learnt of it.
  public enum Source: String, Sendable {
    /// The marketplace's webhook.
    case webhook
    /// The reconciler found it outstanding at the marketplace (a missed webhook).
    case reconciler
    /// The gateway started it itself (a vendor-started change).
    case publisher
  }

  public enum State: String, Sendable, CaseIterable {
    /// Stored, not yet done.
    case received
    /// Done: the suite follows the subscription as the marketplace now has it.
    case applied
    /// A change the plan catalog's rules refused (the marketplace was told Failure).
    case declined
    /// A change we started that the marketplace failed (or found to change nothing).
    case failed
    /// The marketplace does not know the operation: nothing was done.
    case unverified
  }

  public var id: String
  public var subscriptionID: String
  /// ChangePlan, ChangeQuantity, Renew, Suspend, Reinstate, Unsubscribe, or whatever else the
  /// marketplace sends (kept as it came).
  public var action: String
  public var planID: String?
  public var quantity: Int?
  public var requestSource: String?
  public var source: Source
  public var marketplaceTime: Date?
  public var state: State = .received
  /// What was done, in words for operators.
  public var outcome: String? = nil
  /// Why the last attempt did not finish.
  public var problem: String? = nil
  public var deliveries: Int = 1
  public var attempts: Int = 0
  public var receivedAt: Date? = nil
  public var finishedAt: Date? = nil

  public init(
    id: String,
    subscriptionID: String,
    action: String,
    planID: String?,
    quantity: Int?,
    requestSource: String?,
    source: Source,
    marketplaceTime: Date?
  ) {
    self.id = id
    self.subscriptionID = subscriptionID
    self.action = action
    self.planID = planID
    self.quantity = quantity
    self.requestSource = requestSource
    self.source = source
    self.marketplaceTime = marketplaceTime
  }
}

/// The webhook's body, read leniently ("ISVs should avoid strict deserialization of the
/// webhook schema"): what is needed must be there, anything else may be missing or new.
public struct WebhookNotification: Sendable, Equatable {
  public var operation: LifecycleOperation
  /// The body as it came, kept with the operation for operators.
  public var payload: String

  public enum Problem: Error, Equatable, CustomStringConvertible {
    case notJSON
    case missing(String)

    public var description: String {
      switch self {
      case .notJSON: "the body is not a JSON object"
      case .missing(let field): "\(field) is missing or not a plausible value"
      }
    }
  }

  public static func parse(_ body: Data) throws(Problem) -> WebhookNotification {
    guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
      throw .notJSON
    }
    func identifier(_ key: String) throws(Problem) -> String {
      guard let value = object[key] as? String, value.isPrintableASCII(length: 1...128) else {
        throw .missing(key)
      }
      return value.lowercased()
    }
    /// Text that is stored: of plausible length and free of control characters (PostgreSQL
    /// cannot store a NUL; the marketplace would deliver a refused-as-unavailable body for hours).
    func text(_ key: String, required: Bool) throws(Problem) -> String? {
      guard let value = object[key] else {
        if required { throw .missing(key) }
        return nil
      }
      guard let text = value as? String, (1...128).contains(text.utf8.count),
        !text.containsControlCharacters()
      else { throw .missing(key) }
      return text
    }
    let id = try identifier("id")
    let subscriptionID = try identifier("subscriptionId")
    guard let action = try text("action", required: true), action.utf8.count <= 64 else {
      throw .missing("action")
    }
    let quantity = (object["quantity"] as? NSNumber).map(\.intValue)
    let time = (object["timeStamp"] as? String).flatMap(Self.parseTime)
    return WebhookNotification(
      operation: LifecycleOperation(
        id: id,
        subscriptionID: subscriptionID,
        action: action.trimmingCharacters(in: .whitespaces),
        planID: try text("planId", required: false),
        quantity: quantity,
        requestSource: try text("operationRequestSource", required: false),
        source: .webhook,
        marketplaceTime: time
      ),
      payload: String(decoding: body.prefix(16 << 10), as: UTF8.self)
    )
  }

  /// "2021-12-04T19:48:06.7054737Z": seven fractional digits, which ISO8601 styles refuse; the
  /// marketplace's time only orders operations, so seconds are enough.
  static func parseTime(_ text: String) -> Date? {
    let trimmed = text.split(separator: ".").first.map(String.init) ?? text
    let zoned = trimmed.hasSuffix("Z") ? trimmed : trimmed + "Z"
    return try? Date.ISO8601FormatStyle().parse(zoned)
  }
}
