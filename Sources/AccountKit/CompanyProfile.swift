import SuiteErrors

/// A billing center account's company information as registration takes it: four required
/// fields and an optional description, trimmed, bounded, with no control characters but line
/// breaks. The billing center keeps it; the activation checks it too, before it registers.
public struct CompanyProfile: Sendable, Equatable {
  public var companyName: String
  public var industry: String
  public var region: String
  public var contactName: String
  public var description: String

  public init(
    companyName: String,
    industry: String,
    region: String,
    contactName: String,
    description: String
  ) {
    self.companyName = companyName
    self.industry = industry
    self.region = region
    self.contactName = contactName
    self.description = description
  }

  /// The profile trimmed; every problem is recorded under `company.<field>`.
  public static func check(
    _ raw: CompanyProfile,
    into validation: inout Validation
  ) -> CompanyProfile {
    func text(_ value: String, _ field: String, required: Bool, max: Int) -> String {
      let trimmed = value.trimmingWhitespace()
      if required { validation.require(!trimmed.isEmpty, "company.\(field)", "is required") }
      validation.require(
        trimmed.count <= max,
        "company.\(field)",
        "must be at most \(max) characters"
      )
      validation.require(
        !trimmed.containsControlCharacters(except: "\n"),
        "company.\(field)",
        "must not contain control characters"
      )
      return trimmed
    }
    return CompanyProfile(
      companyName: text(raw.companyName, "company_name", required: true, max: 128),
      industry: text(raw.industry, "industry", required: true, max: 64),
      region: text(raw.region, "region", required: true, max: 64),
      contactName: text(raw.contactName, "contact_name", required: true, max: 64),
      description: text(raw.description, "description", required: false, max: 1000)
    )
  }
}
