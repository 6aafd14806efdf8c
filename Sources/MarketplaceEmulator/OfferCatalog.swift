/// The offer the emulator sells and its plans, as the marketplace would list them.
public struct OfferCatalog: Sendable {
  public struct Plan: Sendable, Codable, Equatable {
    public var planId: String
    public var displayName: String
    public var isPricePerSeat: Bool
    public var minQuantity: Int?
    public var maxQuantity: Int?
    /// Metering dimensions billed on top of the plan's base price.
    public var dimensions: [String]
  }

  public var publisherId: String
  public var offerId: String
  public var offerName: String
  public var plans: [Plan]

  public func plan(_ id: String) -> Plan? { plans.first { $0.planId == id } }

  /// The Guance Commercial Plan: pay-as-you-go, every Guance billing item as a dimension.
  public static let guance = OfferCatalog(
    publisherId: "guance",
    offerId: "guance_saas",
    offerName: "Guance Commercial Plan",
    plans: [
      Plan(
        planId: "commercial",
        displayName: "Commercial Plan (pay as you go)",
        isPricePerSeat: false,
        minQuantity: nil,
        maxQuantity: nil,
        dimensions: [
          "time_series", "log_events", "log_traffic_gb", "trace_spans", "rum_page_views",
          "session_replays", "triggers",
        ]
      ),
      Plan(
        planId: "commercial-seats",
        displayName: "Commercial Plan (per seat)",
        isPricePerSeat: true,
        minQuantity: 1,
        maxQuantity: 1000,
        dimensions: ["log_events", "time_series"]
      ),
    ]
  )
}
