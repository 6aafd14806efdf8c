import Foundation
public import Logging
import MarketplaceClient
import Metrics
public import ServiceLifecycle
public import SuiteKit
public import SuitePersistence

/// Wakes a background worker early: the webhook rings it so a ChangePlan is answered in well
/// under the marketplace's 10 seconds instead of at the next poll.
public actor Doorbell {
  private var rung = false
  private var waiter: CheckedContinuation<Void, Never>?

  public init() {}

  public func ring() {
    if let waiter {
      self.waiter = nil
      waiter.resume()
    } else {
      rung = true
    }
  }

  /// Returns at the next ring (at once if it rang since the last wait), after `timeout`, or
  /// when the task is cancelled.
  public func wait(upTo timeout: Duration) async {
    if rung {
      rung = false
      return
    }
    await withTaskGroup(of: Void.self) { group in
      // The timer rings too, so the waiter always resumes (also when cancelled).
      group.addTask {
        try? await Task.sleep(for: timeout)
        await self.ring()
      }
      await withCheckedContinuation { waiter = $0 }
      group.cancelAll()
    }
    rung = false
  }
}

/// Does stored lifecycle operations: each is taken for this process (so replicas share the
/// work, and a crashed worker's operation is taken again as soon as its process is gone; see
/// `Presence`), done, and ended or left for a retry with backoff when another service could
/// not be reached.
public struct LifecycleWorker: Service {
  private let lifecycle: SubscriptionLifecycle
  private let presence: Presence
  private let doorbell: Doorbell
  private let logger: Logger
  private let interval: Duration
  private let lease: Duration
  private let startAfter: StartupGate?

  public init(
    lifecycle: SubscriptionLifecycle,
    presence: Presence,
    doorbell: Doorbell,
    logger: Logger,
    startAfter: StartupGate? = nil,
    interval: Duration = .seconds(1),
    lease: Duration = .seconds(180)
  ) {
    self.lifecycle = lifecycle
    self.presence = presence
    self.doorbell = doorbell
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.lease = lease
  }

  public func run() async throws {
    let doorbell = self.doorbell
    await drainEvery(
      interval,
      startingAfter: startAfter,
      waitingWith: { await doorbell.wait(upTo: $0) }
    ) {
      do {
        return try await runDueOperations() > 0
      } catch {
        logger.warning(
          "taking lifecycle operations failed; will retry",
          metadata: ["error": "\(error)"]
        )
        return false
      }
    }
  }

  /// Takes the due operations and does them side by side (one per subscription); returns how many.
  @discardableResult
  public func runDueOperations(limit: Int = 16) async throws -> Int {
    let due = try await lifecycle.store.claimDueOperations(
      limit: limit,
      runner: try presence.id(),
      lease: lease
    )
    let lifecycle = self.lifecycle
    let logger = self.logger
    await withTaskGroup(of: Void.self) { group in
      for operation in due {
        group.addTask {
          do {
            let (state, outcome) = try await lifecycle.process(operation)
            try await lifecycle.store.finishOperation(operation.id, as: state, outcome: outcome)
            logger.notice(
              "lifecycle operation done",
              metadata: [
                "operation": "\(operation.id)", "action": "\(operation.action)",
                "state": "\(state.rawValue)",
                "outcome": "\(outcome)",
              ]
            )
          } catch  where Self.isFinal(error, operation) {
            logger.error(
              "lifecycle operation failed; an operator can replay it",
              metadata: ["operation": "\(operation.id)", "error": "\(error)"]
            )
            try? await lifecycle.store.finishOperation(
              operation.id,
              as: .failed,
              outcome: "failed: \(error)"
            )
          } catch {
            // 2, 4, 8 ... seconds, at most a minute: the marketplace retries its webhook for 8
            // hours, and the reconciler repairs what is left.
            let delay = Duration.seconds(min(60, 1 << min(operation.attempts, 6)))
            logger.warning(
              "lifecycle operation not done; will retry",
              metadata: [
                "operation": "\(operation.id)", "error": "\(error)", "retry_in": "\(delay)",
              ]
            )
            try? await lifecycle.store.retryOperation(
              operation.id,
              after: delay,
              problem: "\(error)"
            )
          }
        }
      }
    }
    return due.count
  }

  /// A refusal that a retry cannot change, or an operation tried for longer than the
  /// marketplace retries its webhook (8 hours).
  static func isFinal(_ error: any Error, _ operation: LifecycleOperation) -> Bool {
    if let received = operation.receivedAt, Date().timeIntervalSince(received) > 8 * 3600 {
      return true
    }
    switch error {
    case is DependencyRefused: return true
    case MarketplaceError.badRequest: return true
    default: return false
    }
  }
}

/// Repairs missed webhooks: compares the subscriptions the gateway follows with the
/// marketplace's List subscriptions, follows any that differ, and stores operations still
/// outstanding at the marketplace that the webhook never brought.
public struct LifecycleReconciler: Service {
  private let lifecycle: SubscriptionLifecycle
  private let doorbell: Doorbell
  private let logger: Logger
  private let interval: Duration
  private let startAfter: StartupGate?
  private let operationChecksPerPass: Int

  public init(
    lifecycle: SubscriptionLifecycle,
    doorbell: Doorbell,
    logger: Logger,
    startAfter: StartupGate? = nil,
    interval: Duration = .seconds(300),
    operationChecksPerPass: Int = 100
  ) {
    self.lifecycle = lifecycle
    self.doorbell = doorbell
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.operationChecksPerPass = operationChecksPerPass
  }

  public func run() async throws {
    // The first pass after one interval: a gateway starting has nothing missed to repair yet.
    await repeatEvery(interval, startingAfter: startAfter, firstPassAtOnce: false) {
      do {
        let report = try await reconcile()
        Self.passes(.succeeded).increment()
        if report.followed + report.operationsFound > 0 {
          logger.notice(
            "lifecycle reconciled",
            metadata: [
              "followed": "\(report.followed)", "operations_found": "\(report.operationsFound)",
            ]
          )
        }
      } catch {
        Self.passes(.failed).increment()
        logger.warning(
          "lifecycle reconciliation failed; will retry",
          metadata: ["error": "\(error)"]
        )
      }
    }
  }

  /// Passes by result (`lifecycle_reconcile_passes_total`): that the reconciler runs at all,
  /// and an event to wait for where a test must see passes change nothing.
  private enum PassResult: String { case succeeded, failed }

  private static func passes(_ result: PassResult) -> Counter {
    Counter(label: "lifecycle_reconcile_passes_total", dimensions: [("result", result.rawValue)])
  }

  public struct Report: Sendable, Equatable {
    /// Subscriptions whose recorded state differed from the marketplace's and were followed.
    public var followed = 0
    /// Outstanding operations stored because no webhook had brought them.
    public var operationsFound = 0
  }

  /// One pass. Subscriptions the gateway never saw (purchases not yet landed) are left to the
  /// landing page. Outstanding operations cost a call per subscription, so each pass asks for
  /// those of `operationChecksPerPass` subscriptions, longest unasked first.
  public func reconcile() async throws -> Report {
    var report = Report()
    // A page of the marketplace's list at a time, against what the gateway recorded of that
    // page's subscriptions: memory stays one page whatever the number of subscriptions (a
    // million at once took the gateway from ~100 to 480 MiB, bench/results/scale-changes.md).
    try await lifecycle.marketplace.forEachSubscriptionPage { page in
      let followed = try await lifecycle.store.followedSubscriptions(ids: page.map(\.id))
      for listed in page {
        guard let recorded = followed[listed.id],
          !SubscriptionLifecycle.changes(from: recorded, to: listed).isEmpty
        else { continue }
        // The list may be minutes old by now (and a webhook may have been applied meanwhile):
        // follow the subscription as the marketplace has it at this moment.
        let subscription = try await lifecycle.marketplace.subscription(id: listed.id)
        try await lifecycle.follow(
          subscription,
          because: nil,
          correlationID: "reconciler/\(subscription.id)"
        )
        report.followed += 1
      }
    }
    for subscriptionID in try await lifecycle.store.subscriptionsDueForOperationCheck(
      limit: operationChecksPerPass
    ) {
      let outstanding: [MarketplaceOperation]
      do {
        outstanding = try await lifecycle.marketplace.outstandingOperations(
          subscriptionID: subscriptionID
        )
      } catch {
        // One subscription's failure does not hold back the others; it stays due.
        logger.warning(
          "outstanding operations not available",
          metadata: ["subscription": "\(subscriptionID)", "error": "\(error)"]
        )
        continue
      }
      try await lifecycle.store.markOperationsChecked(subscriptionID: subscriptionID)
      for outstanding in outstanding {
        let operation = LifecycleOperation(
          id: outstanding.id.lowercased(),
          subscriptionID: subscriptionID,
          action: outstanding.action,
          planID: outstanding.planID,
          quantity: outstanding.quantity,
          requestSource: outstanding.requestSource,
          source: .reconciler,
          marketplaceTime: nil
        )
        if try await lifecycle.store.recordOperation(operation, payload: "", notBefore: nil) {
          report.operationsFound += 1
          logger.warning(
            "found an operation no webhook brought",
            metadata: ["operation": "\(operation.id)", "action": "\(operation.action)"]
          )
        }
      }
    }
    if report.operationsFound > 0 { await doorbell.ring() }
    return report
  }
}
