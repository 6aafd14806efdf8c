public import Foundation
import PostgresNIO
import SuitePersistence

/// The metering service (docs/azure-saas-contract.md §6): one event per resource, dimension and
/// hour, within the past 24 hours, for active subscriptions and their plan's dimensions.
extension EmulatorStore {
  public struct UsageEventRequest: Codable, Sendable {
    public var resourceId: String?
    public var quantity: Double?
    public var dimension: String?
    public var effectiveStartTime: String?
    public var planId: String?
  }

  /// What the marketplace answers for one event: its status and the event as recorded.
  public struct UsageEventResult: Sendable {
    public var status: String
    public var usageEventId: String?
    public var messageTime: Date?
    public var request: UsageEventRequest
    public var message: String?
  }

  /// ISO 8601 with or without fractional seconds, or without a zone (read as UTC), as the
  /// marketplace accepts. FoundationEssentials' format styles, built once: a formatter per
  /// event went through ICU.
  static func parseTime(_ text: String) -> Date? {
    for style in [withFraction, withoutFraction] {
      if let date = try? style.parse(text) { return date }
      if let date = try? style.parse(text + "Z") { return date }
    }
    return nil
  }

  /// `usageEvents`' `usageStartDate`: also a date alone or a time without seconds
  /// ("2020-12-03", "2020-12-03T15:00"), which usage events themselves may not use.
  static func parseStartDate(_ text: String) -> Date? {
    if text.count == 10 { return parseTime(text + "T00:00:00Z") }
    if text.count == 16 { return parseTime(text + ":00Z") }
    return parseTime(text)
  }

  private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
  private static let withoutFraction = Date.ISO8601FormatStyle()

  public func recordUsage(
    _ event: UsageEventRequest,
    now: Date = Date()
  ) async throws -> UsageEventResult {
    func result(_ status: String, _ message: String) -> UsageEventResult {
      UsageEventResult(
        status: status,
        usageEventId: nil,
        messageTime: nil,
        request: event,
        message: message
      )
    }
    guard let rawID = event.resourceId, let resource = UUID(uuidString: rawID),
      let dimension = event.dimension,
      let quantity = event.quantity, let planID = event.planId,
      let rawTime = event.effectiveStartTime,
      let start = Self.parseTime(rawTime)
    else {
      return result(
        "BadArgument",
        "resourceId, quantity, dimension, effectiveStartTime and planId are required"
      )
    }
    guard let subscription = try await subscription(id: resource) else {
      return result("ResourceNotFound", "the resource is not a subscription of this publisher")
    }
    guard subscription.saasSubscriptionStatus == "Subscribed" else {
      return result(
        "ResourceNotActive",
        "the subscription is \(subscription.saasSubscriptionStatus)"
      )
    }
    guard planID == subscription.planId, let plan = catalog.plan(planID) else {
      return result("BadArgument", "planId is not the subscription's plan")
    }
    guard plan.dimensions.contains(dimension) else {
      return result("InvalidDimension", "unknown dimension \(dimension)")
    }
    guard quantity > 0, quantity.isFinite else {
      return result("InvalidQuantity", "quantity must be positive")
    }
    guard start > now.addingTimeInterval(-86400), start <= now.addingTimeInterval(300) else {
      return result(
        "Expired",
        "Event has expired: effectiveStartTime must be within the past 24 hours"
      )
    }
    let hour = Date(
      timeIntervalSince1970: (start.timeIntervalSince1970 / 3600).rounded(.down) * 3600
    )
    let rows = try await database.execute(
      """
      INSERT INTO usage_events (usage_event_id, resource_id, dimension, plan_id, hour, effective_start_time, quantity)
      VALUES (\(UUID()), \(resource), \(dimension), \(planID), \(hour), \(start), \(quantity))
      ON CONFLICT ON CONSTRAINT usage_events_one_per_hour DO NOTHING
      RETURNING usage_event_id, message_time
      """
    )
    for try await (id, time) in rows.decode((UUID, Date).self) {
      return UsageEventResult(
        status: "Accepted",
        usageEventId: id.uuidString.lowercased(),
        messageTime: time,
        request: event,
        message: nil
      )
    }
    // Already recorded for this hour: answer with the event first accepted.
    let existing = try await database.execute(
      """
      SELECT usage_event_id, message_time, quantity, effective_start_time FROM usage_events
      WHERE resource_id = \(resource) AND dimension = \(dimension) AND hour = \(hour)
      """
    )
    for try await (id, time, acceptedQuantity, acceptedStart) in existing.decode(
      (UUID, Date, Double, Date).self
    ) {
      var accepted = event
      accepted.quantity = acceptedQuantity
      accepted.effectiveStartTime = MarketplaceJSON.timestamp(acceptedStart)
      return UsageEventResult(
        status: "Duplicate",
        usageEventId: id.uuidString.lowercased(),
        messageTime: time,
        request: accepted,
        message: "This usage event already exist."
      )
    }
    return result("Error", "the event could not be recorded")
  }

  /// Accepted usage from `start` on, summed per day, subscription and dimension.
  public func usageSummary(from start: Date) async throws -> [[String: any Sendable]] {
    let rows = try await database.execute(
      """
      SELECT date_trunc('day', hour)::date::text, resource_id, dimension, plan_id, sum(quantity), count(*)::int
      FROM usage_events WHERE hour >= \(start)
      GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3
      """
    )
    var summary: [[String: any Sendable]] = []
    for try await (day, resource, dimension, plan, quantity, count) in rows.decode(
      (String, UUID, String, String, Double, Int).self
    ) {
      summary.append([
        "usageDate": "\(day)T00:00:00Z", "usageResourceId": resource.uuidString.lowercased(),
        "dimension": dimension,
        "planId": plan, "planName": plan, "offerId": catalog.offerId,
        "offerName": catalog.offerName,
        "offerType": "SaaS", "azureSubscriptionId": "", "reconStatus": "Accepted",
        "submittedQuantity": quantity, "processedQuantity": quantity, "submittedCount": count,
      ])
    }
    return summary
  }
}
