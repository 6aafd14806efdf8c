import Foundation
public import SuiteKit

/// The billing items and their USD unit prices, versioned: a closed day records the version
/// it was rated with, so a price change never rewrites history.
public struct PriceCatalog: Sendable, Equatable {
  public struct Item: Sendable, Equatable, Codable {
    /// Stable code used in usage events, e.g. "log_events".
    public var code: String
    public var name: String
    /// How many items one priced unit counts (1,000,000 for "per million").
    public var unitSize: Int64
    /// Price of one unit, in micro-USD.
    public var unitPriceMicros: Int64
    /// The marketplace metering dimension this item is reported under.
    public var dimension: String

    public init(
      code: String,
      name: String,
      unitSize: Int64,
      unitPriceMicros: Int64,
      dimension: String
    ) {
      self.code = code
      self.name = name
      self.unitSize = unitSize
      self.unitPriceMicros = unitPriceMicros
      self.dimension = dimension
    }
  }

  public var version: String
  public var currency: String
  public var items: [Item]

  public init(version: String, currency: String, items: [Item]) {
    self.version = version
    self.currency = currency
    self.items = items
  }

  public func item(_ code: String) -> Item? { items.first { $0.code == code } }

  /// The Commercial Plan's list prices, used unless `PRICE_CATALOG_FILE` names another.
  public static let standard = PriceCatalog(
    version: "2026-11",
    currency: "USD",
    items: [
      Item(
        code: "time_series",
        name: "Time series (per thousand per day)",
        unitSize: 1_000,
        unitPriceMicros: 600_000,
        dimension: "time_series"
      ),
      Item(
        code: "log_events",
        name: "Log events (per million)",
        unitSize: 1_000_000,
        unitPriceMicros: 1_200_000,
        dimension: "log_events"
      ),
      Item(
        code: "log_traffic_gb",
        name: "Log traffic (per GB)",
        unitSize: 1,
        unitPriceMicros: 300_000,
        dimension: "log_traffic_gb"
      ),
      Item(
        code: "trace_spans",
        name: "Trace spans (per million)",
        unitSize: 1_000_000,
        unitPriceMicros: 2_000_000,
        dimension: "trace_spans"
      ),
      Item(
        code: "rum_page_views",
        name: "RUM page views (per ten thousand)",
        unitSize: 10_000,
        unitPriceMicros: 700_000,
        dimension: "rum_page_views"
      ),
      Item(
        code: "session_replays",
        name: "Session replays (per thousand)",
        unitSize: 1_000,
        unitPriceMicros: 1_000_000,
        dimension: "session_replays"
      ),
      Item(
        code: "triggers",
        name: "Triggers (per ten thousand)",
        unitSize: 10_000,
        unitPriceMicros: 100_000,
        dimension: "triggers"
      ),
    ]
  )

  /// `PRICE_CATALOG_FILE`: JSON `{"version": "...", "currency": "USD", "items": [{"code",
  /// "name", "unitSize", "unitPriceMicros", "dimension"}]}`.
  public init(config: ConfigReader) throws(ConfigError) {
    guard let path = config.optional("PRICE_CATALOG_FILE") else {
      self = .standard
      return
    }
    let expected = "a JSON price catalog with version, currency USD and items"
    guard let data = FileManager.default.contents(atPath: path),
      let catalog = try? JSONDecoder().decode(FileFormat.self, from: data)
    else { throw .invalid(variable: "PRICE_CATALOG_FILE", value: path, expected: expected) }
    let codes = catalog.items.map(\.code)
    guard catalog.currency == "USD", !catalog.version.isEmpty, !codes.isEmpty,
      Set(codes).count == codes.count,
      catalog.items.allSatisfy({
        $0.unitSize > 0 && $0.unitPriceMicros >= 0 && !$0.dimension.isEmpty
      })
    else { throw .invalid(variable: "PRICE_CATALOG_FILE", value: path, expected: expected) }
    self.init(version: catalog.version, currency: catalog.currency, items: catalog.items)
  }

  private struct FileFormat: Codable {
    var version: String
    var currency: String
    var items: [Item]
  }
}
