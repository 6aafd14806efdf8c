public import Logging
public import ServiceLifecycle
public import SuiteKit

/// Closes each billing day once its grace period is over. Every replica may run one: a day
/// is claimed once in the database, so they never rate a day twice.
public struct DayCloser: Service {
  private let billing: GuanceBilling
  private let logger: Logger
  private let interval: Duration
  private let startAfter: StartupGate?

  /// - Parameter startAfter: opened once the schema exists (after migrations).
  public init(
    billing: GuanceBilling,
    logger: Logger,
    startAfter: StartupGate? = nil,
    interval: Duration = .seconds(60)
  ) {
    self.billing = billing
    self.startAfter = startAfter
    self.logger = logger
    self.interval = interval
  }

  public func run() async throws {
    await repeatEvery(interval, startingAfter: startAfter) {
      do {
        for (day, closing) in try await billing.closeDueDays() where closing.closedNow {
          logger.notice(
            "closed billing day",
            metadata: [
              "day": "\(day)", "lines": "\(closing.billLines)",
              "metering": "\(closing.meteringRecords)",
            ]
          )
        }
      } catch {
        logger.warning("closing billing days failed; will retry", metadata: ["error": "\(error)"])
      }
    }
  }
}
