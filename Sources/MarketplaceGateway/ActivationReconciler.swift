public import Logging
import MarketplaceClient
public import ServiceLifecycle
public import SuiteRuntime

/// Resumes activation sagas that nobody is running: their runner died (crash, SIGKILL,
/// restart) or a transient failure scheduled a retry. Every replica may run one: sagas are
/// claimed with a lease in the database, so no saga has two runners.
public struct ActivationReconciler: Service {
  private let saga: ActivationSaga
  private let logger: Logger
  private let interval: Duration
  private let batchSize: Int
  private let startAfter: StartupGate?

  /// - Parameter startAfter: opened once the schema exists (after migrations).
  public init(
    saga: ActivationSaga, logger: Logger, startAfter: StartupGate? = nil, interval: Duration = .seconds(5),
    batchSize: Int = 32
  ) {
    self.saga = saga
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.batchSize = batchSize
  }

  public func run() async throws {
    await repeatEvery(interval, startingAfter: startAfter) {
      do {
        let resumed = try await resumeDueSagas()
        if resumed > 0 { logger.notice("resumed activation sagas", metadata: ["count": "\(resumed)"]) }
      } catch {
        logger.warning("resuming activation sagas failed; will retry", metadata: ["error": "\(error)"])
      }
    }
  }

  /// Claims the due sagas and runs them side by side; returns how many it took.
  @discardableResult
  public func resumeDueSagas() async throws -> Int {
    let due = try await saga.store.claimDueSagas(limit: batchSize, lease: saga.settings.lease)
    let saga = self.saga
    let logger = self.logger
    await withTaskGroup(of: Void.self) { group in
      for (record, subscription) in due {
        group.addTask {
          do {
            try await saga.run(record, subscription: subscription, correlationID: "reconciler/\(subscription.id)")
          } catch {
            logger.warning(
              "resumed activation stopped", metadata: ["subscription": "\(subscription.id)", "error": "\(String(reflecting: error))"])
          }
        }
      }
    }
    return due.count
  }
}
