public import Foundation
public import Logging
public import MarketplaceClient
import Metrics
public import ServiceLifecycle
public import SuiteRuntime

/// Sends the billing center's metering records to the marketplace (batchUsageEvent, at most
/// 25 a call) and records each verdict. Accepted and Duplicate are delivered; every other
/// status is kept with the marketplace's message; an unanswered call leaves its records
/// pending. A submitter killed between the marketplace's answer and recording it loses
/// nothing and bills nothing twice: the records are still pending, are sent again with the
/// same subscription, dimension and hour, and the marketplace answers Duplicate.
public struct MeteringSubmitter: Sendable {
  public struct Settings: Sendable {
    /// Events per marketplace call (the marketplace takes 25 at most).
    public var batchSize: Int
    /// Alarm when a record is this close to the marketplace's 24-hour cutoff and still undelivered.
    public var deadlineMargin: Duration

    public init(batchSize: Int = 25, deadlineMargin: Duration = .seconds(4 * 3600)) {
      self.batchSize = min(max(batchSize, 1), 25)
      self.deadlineMargin = deadlineMargin
    }
  }

  /// What one pass did.
  public struct Report: Sendable, Equatable {
    public var sent = 0
    public var delivered = 0
    public var rejected = 0
    /// Left pending: the marketplace did not answer.
    public var retrying = 0
    /// Undelivered records within the deadline margin of (or past) the 24-hour cutoff.
    public var nearDeadline: [String] = []
  }

  let ledger: any MeteringLedger
  let marketplace: MarketplaceClient
  let store: GatewayStore
  let settings: Settings
  let logger: Logger

  public init(
    ledger: any MeteringLedger, marketplace: MarketplaceClient, store: GatewayStore, settings: Settings, logger: Logger
  ) {
    self.ledger = ledger
    self.marketplace = marketplace
    self.store = store
    self.settings = settings
    self.logger = logger
  }

  /// The marketplace accepts usage for the past 24 hours only.
  static let cutoff: TimeInterval = 24 * 3600

  /// Sends every pending record once.
  public func submitPending(now: Date = Date()) async throws -> Report {
    var report = Report()
    let pending = try await ledger.pendingRecords(limit: 1000)
    let alarmAt = Self.cutoff - Double(settings.deadlineMargin.components.seconds)
    report.nearDeadline = pending.filter { now.timeIntervalSince($0.effectiveStartTime) >= alarmAt }.map(\.key)
    Gauge(label: "marketplace_metering_records_near_deadline").record(report.nearDeadline.count)
    if !report.nearDeadline.isEmpty {
      logger.error(
        "metering records near the marketplace's 24-hour cutoff are still undelivered",
        metadata: ["count": "\(report.nearDeadline.count)", "first": "\(report.nearDeadline[0])"])
    }
    var plans: [String: String?] = [:]
    var verdicts: [MeteringVerdict] = []
    var events: [(MeteringRecord, MarketplaceUsageEvent)] = []
    for record in pending {
      if plans[record.subscriptionID] == nil { plans[record.subscriptionID] = try await plan(of: record.subscriptionID) }
      guard let plan = plans[record.subscriptionID] ?? nil else {
        verdicts.append(
          MeteringVerdict(
            key: record.key, outcome: .rejected, marketplaceStatus: "ResourceNotFound",
            message: "the marketplace has no subscription \(record.subscriptionID)"))
        continue
      }
      guard let quantity = Double(record.quantity), quantity > 0 else {
        verdicts.append(
          MeteringVerdict(
            key: record.key, outcome: .rejected, marketplaceStatus: "InvalidQuantity",
            message: "the billing center's quantity \(record.quantity) is not a positive number"))
        continue
      }
      events.append(
        (record, MarketplaceUsageEvent(
          resourceID: record.subscriptionID, dimension: record.dimension, quantity: quantity,
          effectiveStartTime: record.effectiveStartTime, planID: plan)))
    }
    var batches = stride(from: 0, to: events.count, by: settings.batchSize).map {
      Array(events[$0..<min($0 + settings.batchSize, events.count)])
    }[...]
    while let batch = batches.popFirst() {
      do {
        let results = try await marketplace.recordUsage(batch.map(\.1))
        report.sent += batch.count
        for ((record, _), result) in zip(batch, results) {
          let outcome: MeteringVerdict.Outcome =
            switch result.status {
            case "Accepted": .accepted
            case "Duplicate": .duplicate
            default: .rejected
            }
          if outcome == .rejected {
            report.rejected += 1
            logger.warning(
              "the marketplace refused a metering record",
              metadata: ["key": "\(record.key)", "status": "\(result.status)", "message": "\(result.message ?? "")"])
          } else {
            report.delivered += 1
          }
          verdicts.append(
            MeteringVerdict(
              key: record.key, outcome: outcome, marketplaceStatus: result.status, message: result.message ?? ""))
        }
      } catch let error as MarketplaceError where error.isTransient {
        // No answer (after the client's own retries): this batch and the rest wait for the
        // next pass, with the same keys.
        let waiting = [batch] + Array(batches)
        batches = []
        for (record, _) in waiting.joined() {
          verdicts.append(MeteringVerdict(key: record.key, outcome: .retry, marketplaceStatus: "", message: "\(error)"))
        }
        report.retrying += waiting.joined().count
        logger.warning("the marketplace did not take usage; will retry", metadata: ["error": "\(error)"])
      }
    }
    if !verdicts.isEmpty { try await ledger.record(verdicts) }
    for (name, count) in [("delivered", report.delivered), ("rejected", report.rejected), ("retrying", report.retrying)]
    where count > 0 {
      Counter(label: "marketplace_metering_records_total", dimensions: [("outcome", name)]).increment(by: count)
    }
    return report
  }

  /// The subscription's plan as the gateway follows it, or as the marketplace has it; nil
  /// when the marketplace does not know the subscription.
  private func plan(of subscriptionID: String) async throws -> String? {
    if let (subscription, _) = try await store.followedSubscription(subscriptionID) { return subscription.planID }
    do {
      return try await marketplace.subscription(id: subscriptionID).planID
    } catch MarketplaceError.notFound {
      return nil
    }
  }

  /// One subscription and dimension whose delivered usage for a day differs from the
  /// marketplace's record of it.
  public struct Mismatch: Sendable, Equatable {
    /// "YYYY-MM-DD", the day of the reported hours.
    public var usageDate: String
    public var subscriptionID: String
    public var dimension: String
    public var delivered: Double
    public var marketplace: Double
  }

  /// Compares what was delivered for the hours of `usageDate` with the marketplace's GET
  /// usageEvents; logs and returns every difference.
  public func reconcile(usageDate: Date) async throws -> [Mismatch] {
    let dayStart = Date(timeIntervalSince1970: (usageDate.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
    let dayText = Self.day(dayStart)
    // Records are rated per billing day and reported at the hour it ends, so the hours of a
    // usage date come from that day and the one before.
    var ours: [String: Double] = [:]
    for billingDay in [dayStart.addingTimeInterval(-86400), dayStart] {
      for record in try await ledger.records(status: nil, day: Self.day(billingDay), subscriptionID: nil, limit: 1000)
      where record.status.isDelivered && Self.day(record.effectiveStartTime) == dayText {
        ours["\(record.subscriptionID.lowercased())|\(record.dimension)", default: 0] += Double(record.quantity) ?? 0
      }
    }
    var theirs: [String: Double] = [:]
    for row in try await marketplace.usageEvents(from: dayStart) where row.usageDate == dayText {
      theirs["\(row.resourceID)|\(row.dimension)", default: 0] += row.submittedQuantity
    }
    var mismatches: [Mismatch] = []
    for key in Set(ours.keys).union(theirs.keys).sorted() {
      let (delivered, recorded) = (ours[key] ?? 0, theirs[key] ?? 0)
      guard abs(delivered - recorded) > 0.000_000_5 else { continue }
      let parts = key.split(separator: "|").map(String.init)
      mismatches.append(
        Mismatch(
          usageDate: dayText, subscriptionID: parts[0], dimension: parts.count > 1 ? parts[1] : "",
          delivered: delivered, marketplace: recorded))
    }
    Gauge(label: "marketplace_metering_mismatches").record(mismatches.count)
    for mismatch in mismatches {
      logger.error(
        "delivered usage and the marketplace's record differ",
        metadata: [
          "date": "\(mismatch.usageDate)", "subscription": "\(mismatch.subscriptionID)",
          "dimension": "\(mismatch.dimension)", "delivered": "\(mismatch.delivered)",
          "marketplace": "\(mismatch.marketplace)",
        ])
    }
    return mismatches
  }

  static func day(_ date: Date) -> String {
    date.formatted(Date.ISO8601FormatStyle().year().month().day())
  }
}

/// Runs the submitter every `interval`, and the reconciliation of yesterday and today every
/// `reconcileInterval`.
public struct MeteringService: Service {
  private let submitter: MeteringSubmitter
  private let interval: Duration
  private let reconcileInterval: Duration
  private let startAfter: StartupGate?
  private let logger: Logger

  public init(
    submitter: MeteringSubmitter, logger: Logger, startAfter: StartupGate? = nil, interval: Duration = .seconds(60),
    reconcileInterval: Duration = .seconds(3600)
  ) {
    self.submitter = submitter
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.reconcileInterval = reconcileInterval
  }

  public func run() async throws {
    if let startAfter, await !startAfter.mayStart() { return }
    let clock = ContinuousClock()
    var lastReconciled: ContinuousClock.Instant?
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
      do {
        let report = try await submitter.submitPending()
        if report.sent + report.retrying > 0 {
          logger.notice(
            "metering pass",
            metadata: [
              "sent": "\(report.sent)", "delivered": "\(report.delivered)", "rejected": "\(report.rejected)",
              "retrying": "\(report.retrying)",
            ])
        }
        if lastReconciled.map({ clock.now - $0 >= reconcileInterval }) ?? true {
          let now = Date()
          for day in [now.addingTimeInterval(-86400), now] { _ = try await submitter.reconcile(usageDate: day) }
          lastReconciled = clock.now
        }
      } catch {
        logger.warning("metering pass failed; will retry", metadata: ["error": "\(error)"])
      }
      try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
  }
}
