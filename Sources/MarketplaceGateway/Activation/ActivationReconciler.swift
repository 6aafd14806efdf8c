public import Logging
import MarketplaceClient
public import ServiceLifecycle
public import SuiteKit
import SuitePersistence

/// Resumes activation sagas that nobody is running: their runner's process died (crash,
/// SIGKILL, restart: free the moment its presence is gone, see `Presence`) or a transient
/// failure scheduled a retry. Every replica may run one: a saga is claimed in the database for
/// the claiming process, so no saga has two runners.
public struct ActivationReconciler: Service {
  private let activations: Activations
  private let logger: Logger
  private let interval: Duration
  private let batchSize: Int
  private let startAfter: StartupGate?

  /// - Parameter startAfter: opened once the schema exists (after migrations).
  public init(
    activations: Activations,
    logger: Logger,
    startAfter: StartupGate? = nil,
    interval: Duration = .seconds(2),
    batchSize: Int = 32
  ) {
    self.activations = activations
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.batchSize = batchSize
  }

  public func run() async throws {
    await repeatEvery(interval, startingAfter: startAfter) {
      do {
        let resumed = try await resumeDueSagas()
        if resumed > 0 {
          logger.notice("resumed activation sagas", metadata: ["count": "\(resumed)"])
        }
      } catch {
        logger.warning(
          "resuming activation sagas failed; will retry",
          metadata: ["error": "\(error)"]
        )
      }
      do {
        try await finishAbandonedCreations()
      } catch {
        logger.warning(
          "finishing abandoned workspace creations failed; will retry",
          metadata: ["error": "\(error)"]
        )
      }
    }
  }

  /// Finishes the workspace creations whose call died before their saga began (see
  /// `Activations.finishAbandonedCreations`); returns the subscriptions it finished.
  @discardableResult
  public func finishAbandonedCreations() async throws -> [String] {
    let (finished, failed) = try await activations.finishAbandonedCreations(limit: batchSize)
    if !finished.isEmpty {
      logger.notice(
        "finished abandoned workspace creations",
        metadata: ["count": "\(finished.count)"]
      )
    }
    for (subscription, error) in failed {
      logger.warning(
        "finishing an abandoned workspace creation stopped; will retry",
        metadata: ["subscription": "\(subscription)", "error": "\(String(reflecting: error))"]
      )
    }
    return finished
  }

  /// Claims the due sagas and runs them side by side; returns how many it took.
  @discardableResult
  public func resumeDueSagas() async throws -> Int {
    let saga = activations.saga
    let due = try await saga.store.claimDueSagas(
      limit: batchSize,
      runner: try saga.presence.id(),
      lease: saga.settings.lease
    )
    let logger = self.logger
    await withTaskGroup(of: Void.self) { group in
      for (record, subscription) in due {
        group.addTask {
          do {
            try await saga.run(
              record,
              subscription: subscription,
              correlationID: "reconciler/\(subscription.id)"
            )
          } catch {
            logger.warning(
              "resumed activation stopped",
              metadata: [
                "subscription": "\(subscription.id)", "error": "\(String(reflecting: error))",
              ]
            )
          }
        }
      }
    }
    return due.count
  }
}
