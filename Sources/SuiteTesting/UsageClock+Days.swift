package import Foundation
import MarketplaceClient
package import SuiteKit

extension UsageClock {
  /// A clock that reads noon (UTC) of today when made, and runs on from there. Tests of a
  /// finished day use it: at noon yesterday's last hour is well within the marketplace's 24
  /// hours, and the test's days stay the same whenever it runs, midnight included.
  package static func noonToday() -> UsageClock {
    let now = Date().timeIntervalSince1970
    let noon = (now / 86400).rounded(.down) * 86400 + 12 * 3600
    return UsageClock(offset: .seconds(Int64((noon - now).rounded())))
  }

  /// Today by this clock, as the marketplace's usage APIs write a date ("2026-12-05").
  package var today: String { Self.day(of: now()) }

  /// Noon yesterday by this clock: a day that is over, whose records (reported at the hour it
  /// ends) are within the marketplace's 24 hours.
  package var yesterday: (day: String, noon: Date) {
    let midnight = (now().timeIntervalSince1970 / 86400).rounded(.down) * 86400
    let noon = Date(timeIntervalSince1970: midnight - 86400 + 12 * 3600)
    return (Self.day(of: noon), noon)
  }

  package static func day(of time: Date) -> String { time.formatted(MarketplaceClient.dayStyle) }
}
