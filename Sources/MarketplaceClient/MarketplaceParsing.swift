import Foundation

/// Reads the marketplace's JSON leniently, as Microsoft asks of publishers: unknown fields
/// are ignored, `quantity` may be a number, a string, `""` or null, statuses are trimmed.
enum MarketplaceParsing {
  typealias Object = [String: Any]

  static func object(_ data: Data) throws -> Object {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? Object else {
      throw MarketplaceError.malformedResponse("expected a JSON object")
    }
    return object
  }

  static func string(_ object: Object, _ key: String) -> String? {
    switch object[key] {
    case let text as String: text.trimmingCharacters(in: .whitespacesAndNewlines)
    case let number as NSNumber: number.stringValue
    default: nil
    }
  }

  static func require(_ object: Object, _ key: String) throws -> String {
    guard let value = string(object, key), !value.isEmpty else {
      throw MarketplaceError.malformedResponse("missing \(key)")
    }
    return value
  }

  /// A seat count: 20, "20", " 20 ", "" and null all read sensibly.
  static func quantity(_ object: Object, _ key: String = "quantity") -> Int? {
    switch object[key] {
    case let number as NSNumber: number.intValue
    case let text as String: Int(text.trimmingCharacters(in: .whitespaces))
    default: nil
    }
  }

  static func bool(_ object: Object, _ key: String, default fallback: Bool) -> Bool {
    switch object[key] {
    case let flag as Bool: flag
    case let text as String: text.lowercased() == "true"
    default: fallback
    }
  }

  /// ISO 8601 with or without fractional seconds, or without a zone ("2022-03-04T00:00:00",
  /// as the docs show: UTC). FoundationEssentials' format styles, not ISO8601DateFormatter:
  /// a formatter per call went through ICU and cost a tenth of the gateway's CPU.
  static func date(_ text: String?) -> Date? {
    guard let text, !text.isEmpty else { return nil }
    for style in [withFraction, withoutFraction] {
      if let date = try? style.parse(text) { return date }
      if let date = try? style.parse(text + "Z") { return date }
    }
    return nil
  }

  private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
  private static let withoutFraction = Date.ISO8601FormatStyle()

  static func identity(_ object: Object?) -> MarketplaceIdentity {
    MarketplaceIdentity(
      email: object.flatMap { string($0, "emailId") } ?? "",
      objectID: object.flatMap { string($0, "objectId") }?.lowercased() ?? "",
      tenantID: object.flatMap { string($0, "tenantId") }?.lowercased() ?? ""
    )
  }

  static func subscription(_ object: Object) throws -> MarketplaceSubscription {
    let term = object["term"] as? Object
    return MarketplaceSubscription(
      id: try require(object, "id").lowercased(),
      name: string(object, "name") ?? "",
      offerID: string(object, "offerId") ?? "",
      planID: try require(object, "planId"),
      quantity: quantity(object),
      status: MarketplaceSubscriptionStatus(string(object, "saasSubscriptionStatus") ?? ""),
      purchaser: identity(object["purchaser"] as? Object),
      beneficiary: identity(object["beneficiary"] as? Object),
      termUnit: term.flatMap { string($0, "termUnit") } ?? "",
      termStart: date(term.flatMap { string($0, "startDate") }),
      termEnd: date(term.flatMap { string($0, "endDate") }),
      autoRenew: bool(object, "autoRenew", default: true),
      isTest: bool(object, "isTest", default: false)
    )
  }

  static func resolved(_ object: Object) throws -> ResolvedSubscription {
    guard let inner = object["subscription"] as? Object else {
      throw MarketplaceError.malformedResponse("missing subscription")
    }
    let subscription = try subscription(inner)
    return ResolvedSubscription(
      subscriptionID: (string(object, "id") ?? subscription.id).lowercased(),
      subscriptionName: string(object, "subscriptionName") ?? subscription.name,
      offerID: string(object, "offerId") ?? subscription.offerID,
      planID: string(object, "planId") ?? subscription.planID,
      quantity: quantity(object) ?? subscription.quantity,
      subscription: subscription
    )
  }

  static func operation(_ object: Object) throws -> MarketplaceOperation {
    MarketplaceOperation(
      id: try require(object, "id").lowercased(),
      subscriptionID: string(object, "subscriptionId")?.lowercased() ?? "",
      action: string(object, "action") ?? "",
      planID: string(object, "planId") ?? "",
      quantity: quantity(object),
      status: string(object, "status") ?? "",
      requestSource: string(object, "operationRequestSource")
    )
  }

  /// The error body's message, in whichever of the marketplace's shapes it came.
  static func errorMessage(_ data: Data) -> (code: String, message: String) {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? Object else {
      return ("", String(decoding: data.prefix(500), as: UTF8.self))
    }
    for key in ["error", "Error"] {
      if let inner = object[key] as? Object {
        return (
          string(inner, "code") ?? string(inner, "Code") ?? "",
          string(inner, "message") ?? string(inner, "Message") ?? ""
        )
      }
    }
    return (string(object, "code") ?? "", string(object, "message") ?? "")
  }

  /// One row of GET usageEvents; rows without a date, resource or dimension are skipped.
  static func usageSummary(_ object: Object) -> MarketplaceUsageSummary? {
    guard let date = string(object, "usageDate"), date.count >= 10,
      let resource = string(object, "usageResourceId"),
      let dimension = string(object, "dimension"), !resource.isEmpty, !dimension.isEmpty
    else { return nil }
    let submitted: Double =
      switch object["submittedQuantity"] {
      case let number as NSNumber: number.doubleValue
      case let text as String: Double(text) ?? 0
      default: 0
      }
    return MarketplaceUsageSummary(
      usageDate: String(date.prefix(10)),
      resourceID: resource.lowercased(),
      dimension: dimension,
      submittedQuantity: submitted
    )
  }
}
