public import Foundation

/// The time by which usage is dated and judged: which billing day a usage event belongs to, when
/// a day is over and may close, and which hours are still within the marketplace's 24 hours. In
/// production it is the wall clock. `USAGE_CLOCK_OFFSET_SECONDS` shifts it, for tests and
/// rehearsals of a finished day: between 23:00 and midnight UTC no finished day's last hour is
/// within the marketplace's 24 hours, so a test of yesterday's usage runs the billing center, the
/// gateway and the emulated marketplace at an hour of its choosing instead. Only this calendar is
/// shifted: timestamps PostgreSQL keeps (sessions, codes, sagas) use the database's own clock.
public struct UsageClock: Sendable {
  /// How far this clock is ahead of the wall clock (behind when negative).
  public let offset: Duration

  public static let wall = UsageClock(offset: .zero)

  /// At most a week either way: enough for any rehearsal, and a typo of a timestamp is refused.
  public static let offsetRange = -604_800...604_800

  public init(offset: Duration) { self.offset = offset }

  /// `USAGE_CLOCK_OFFSET_SECONDS` (0, the wall clock).
  public init(config: ConfigReader) throws(ConfigError) {
    offset = .seconds(
      try config.int("USAGE_CLOCK_OFFSET_SECONDS", default: 0, range: Self.offsetRange)
    )
  }

  /// What time it is by this clock.
  public func now() -> Date {
    Date().addingTimeInterval(Double(offset.components.seconds))
  }

  /// The variable that gives a service this clock.
  public var environment: [String: String] {
    ["USAGE_CLOCK_OFFSET_SECONDS": "\(offset.components.seconds)"]
  }
}
