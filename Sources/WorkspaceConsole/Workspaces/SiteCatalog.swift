import Foundation
public import SuiteKit

/// The sites where workspaces can live and the languages they can use, from configuration.
public struct SiteCatalog: Sendable {
  public struct Site: Sendable, Equatable {
    public var code: String
    public var displayName: String
    public var region: String
  }

  public struct Language: Sendable, Equatable {
    public var code: String
    public var displayName: String
  }

  public var sites: [Site]
  public var languages: [Language]

  public init(sites: [Site], languages: [Language]) {
    self.sites = sites
    self.languages = languages
  }

  public static let defaults = SiteCatalog(
    sites: [
      Site(code: "us1", displayName: "Americas 1 (Oregon)", region: "us-west"),
      Site(code: "eu1", displayName: "Europe 1 (Frankfurt)", region: "eu-central"),
      Site(code: "ap1", displayName: "Asia-Pacific 1 (Singapore)", region: "ap-southeast"),
      Site(code: "cn1", displayName: "China 1 (Hangzhou)", region: "cn-east"),
    ],
    languages: [
      Language(code: "en", displayName: "English"),
      Language(code: "zh", displayName: "中文"),
    ]
  )

  /// `CONSOLE_SITES="us1|Americas 1 (Oregon)|us-west,eu1|Europe 1|eu-central"` and
  /// `CONSOLE_LANGUAGES="en|English,zh|中文"` replace the defaults.
  public init(config: ConfigReader) throws(ConfigError) {
    var catalog = Self.defaults
    if let text = config.optional("CONSOLE_SITES") {
      catalog.sites = try Self.entries(text, variable: "CONSOLE_SITES", fields: 3).map {
        Site(code: $0[0], displayName: $0[1], region: $0[2])
      }
    }
    if let text = config.optional("CONSOLE_LANGUAGES") {
      catalog.languages = try Self.entries(text, variable: "CONSOLE_LANGUAGES", fields: 2).map {
        Language(code: $0[0], displayName: $0[1])
      }
    }
    self = catalog
  }

  public func site(_ code: String) -> Site? { sites.first { $0.code == code } }
  public func language(_ code: String) -> Language? { languages.first { $0.code == code } }

  private static func entries(
    _ text: String,
    variable: String,
    fields: Int
  ) throws(ConfigError)
    -> [[String]]
  {
    let entries = text.split(separator: ",").map {
      $0.split(separator: "|", omittingEmptySubsequences: false).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
    }
    let codes = entries.compactMap(\.first)
    guard !entries.isEmpty, entries.allSatisfy({ $0.count == fields && !$0.contains("") }),
      Set(codes).count == codes.count
    else {
      throw .invalid(
        variable: variable,
        value: text,
        expected:
          "comma-separated entries of \(fields) '|'-separated non-empty fields, unique codes"
      )
    }
    return entries
  }
}
