public import Foundation
public import Logging
public import MarketplaceClient
import Metrics
public import ServiceLifecycle
public import SuiteKit
import SuitePersistence

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
    /// The usage calendar's clock, by which the 24 hours are counted and the days to reconcile
    /// chosen.
    public var clock: UsageClock

    public init(
      batchSize: Int = 25,
      deadlineMargin: Duration = .seconds(4 * 3600),
      clock: UsageClock = .wall
    ) {
      self.batchSize = min(max(batchSize, 1), 25)
      self.deadlineMargin = deadlineMargin
      self.clock = clock
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
  let store: any MeteringPlanStore
  let settings: Settings
  let logger: Logger

  public init(
    ledger: any MeteringLedger,
    marketplace: MarketplaceClient,
    store: any MeteringPlanStore,
    settings: Settings,
    logger: Logger
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
  public func submitPending() async throws -> Report {
    let now = settings.clock.now()
    var report = Report()
    let pending = try await ledger.pendingRecords(limit: 1000)
    let alarmAt = Self.cutoff - Double(settings.deadlineMargin.components.seconds)
    report.nearDeadline = pending.filter { now.timeIntervalSince($0.effectiveStartTime) >= alarmAt }
      .map(\.key)
    Gauge(label: "marketplace_metering_records_near_deadline").record(report.nearDeadline.count)
    if !report.nearDeadline.isEmpty {
      logger.error(
        "metering records near the marketplace's 24-hour cutoff are still undelivered",
        metadata: ["count": "\(report.nearDeadline.count)", "first": "\(report.nearDeadline[0])"]
      )
    }
    let plans = try await plans(of: Set(pending.map(\.subscriptionID)))
    // Records that cannot be sent at all, refused before any call.
    var verdicts: [MeteringVerdict] = []
    var events: [(MeteringRecord, MarketplaceUsageEvent)] = []
    for record in pending {
      guard let plan = plans[record.subscriptionID] else {
        verdicts.append(
          MeteringVerdict(
            key: record.key,
            outcome: .rejected,
            marketplaceStatus: "ResourceNotFound",
            message: "the marketplace has no subscription \(record.subscriptionID)"
          )
        )
        continue
      }
      guard let quantity = Double(record.quantity), quantity > 0 else {
        verdicts.append(
          MeteringVerdict(
            key: record.key,
            outcome: .rejected,
            marketplaceStatus: "InvalidQuantity",
            message: "the billing center's quantity \(record.quantity) is not a positive number"
          )
        )
        continue
      }
      events.append(
        (
          record,
          MarketplaceUsageEvent(
            resourceID: record.subscriptionID,
            dimension: record.dimension,
            quantity: quantity,
            effectiveStartTime: record.effectiveStartTime,
            planID: plan
          )
        )
      )
    }
    if !verdicts.isEmpty { try await ledger.record(verdicts) }
    var batches = stride(from: 0, to: events.count, by: settings.batchSize).map {
      Array(events[$0..<min($0 + settings.batchSize, events.count)])
    }[...]
    // Each batch's verdicts are recorded as soon as the marketplace answers it: a later
    // failure (or a crash) then costs at most that batch a resubmission.
    while let batch = batches.popFirst() {
      var verdicts: [MeteringVerdict] = []
      func retry(
        _ waiting: some Sequence<(MeteringRecord, MarketplaceUsageEvent)>,
        _ reason: String
      ) {
        for (record, _) in waiting {
          verdicts.append(
            MeteringVerdict(
              key: record.key,
              outcome: .retry,
              marketplaceStatus: "",
              message: reason
            )
          )
          report.retrying += 1
        }
      }
      do {
        let results = try await marketplace.recordUsage(batch.map(\.1))
        report.sent += batch.count
        for ((record, _), result) in zip(batch, results) {
          let verdict = Self.verdict(on: record, result)
          switch verdict.outcome {
          case .accepted, .duplicate: report.delivered += 1
          case .retry: report.retrying += 1
          case .rejected:
            report.rejected += 1
            logger.warning(
              "the marketplace refused a metering record",
              metadata: [
                "key": "\(record.key)", "status": "\(result.status)",
                "message": "\(verdict.message)",
              ]
            )
          }
          verdicts.append(verdict)
        }
      } catch let error as MarketplaceError {
        switch error {
        case .unavailable, .transport, .unauthorized, .forbidden:
          // No answer after the client's own retries, or our credentials refused: nothing else
          // will pass now. This batch and the rest wait for the next pass, with the same keys.
          retry(batch + batches.joined(), "\(error)")
          batches = []
          logger.error(
            "the marketplace did not take usage; will retry",
            metadata: ["error": "\(error)"]
          )
        case .badRequest(_, let message) where batch.count > 1:
          // The whole batch refused: its records go one by one, so one bad record cannot hold
          // back the others.
          logger.warning(
            "the marketplace refused a whole batch; sending its records one by one",
            metadata: ["message": "\(message)"]
          )
          batches = batch.map { [$0] }[...] + batches
        case .badRequest(let code, let message):
          report.sent += 1
          report.rejected += 1
          verdicts.append(
            MeteringVerdict(
              key: batch[0].0.key,
              outcome: .rejected,
              marketplaceStatus: code,
              message: message
            )
          )
        case .notFound, .conflict, .malformedResponse:
          // An answer we cannot read per record: this batch waits for the next pass.
          retry(batch, "\(error)")
          logger.error(
            "unreadable marketplace answer to a usage batch; will retry",
            metadata: ["error": "\(error)"]
          )
        }
      }
      if !verdicts.isEmpty { try await ledger.record(verdicts) }
    }
    for (name, count) in [
      ("delivered", report.delivered), ("rejected", report.rejected), ("retrying", report.retrying),
    ]
    where count > 0 {
      Counter(label: "marketplace_metering_records_total", dimensions: [("outcome", name)])
        .increment(by: count)
    }
    return report
  }

  /// What the marketplace's answer for one record means. `Error` is the marketplace's own
  /// failure: tried again. `Expired` on a record sent before may hide an earlier acceptance
  /// whose answer was lost (the marketplace checks expiry before duplicates): it is kept as
  /// refused, saying so, and reconciliation compares it with the marketplace's totals.
  static func verdict(
    on record: MeteringRecord,
    _ result: MarketplaceUsageResult
  ) -> MeteringVerdict {
    let message = result.message ?? ""
    switch result.status {
    case "Accepted":
      return MeteringVerdict(
        key: record.key,
        outcome: .accepted,
        marketplaceStatus: result.status,
        message: ""
      )
    case "Duplicate":
      return MeteringVerdict(
        key: record.key,
        outcome: .duplicate,
        marketplaceStatus: result.status,
        message: ""
      )
    case "Error":
      return MeteringVerdict(
        key: record.key,
        outcome: .retry,
        marketplaceStatus: result.status,
        message: message
      )
    case "Expired" where record.attempts > 0:
      return MeteringVerdict(
        key: record.key,
        outcome: .rejected,
        marketplaceStatus: result.status,
        message:
          "\(message) (sent before without a recorded answer: the marketplace may have it; see reconciliation)"
      )
    default:
      return MeteringVerdict(
        key: record.key,
        outcome: .rejected,
        marketplaceStatus: result.status,
        message: message
      )
    }
  }

  /// The subscriptions' plans as the gateway follows them (one query), or as the marketplace
  /// has them; absent when the marketplace does not know the subscription.
  private func plans(of subscriptionIDs: Set<String>) async throws -> [String: String] {
    var plans = try await store.planIDs(of: Array(subscriptionIDs))
    for id in subscriptionIDs where plans[id] == nil {
      do {
        plans[id] = try await marketplace.subscription(id: id).planID
      } catch MarketplaceError.notFound {
        continue
      }
    }
    return plans
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
    try await reconcile(usageDates: [usageDate])
  }

  /// The same for several usage dates at once: each billing day's records are read once and
  /// the marketplace asked once, from the earliest date on.
  public func reconcile(usageDates: [Date]) async throws -> [Mismatch] {
    // Dates are compared as UTC days ("YYYY-MM-DD"), whatever their time of day.
    guard let earliest = usageDates.min() else { return [] }
    let dayTexts = Set(usageDates.map(Self.day))
    // Records are rated per billing day and reported at the hour it ends, so the hours of a
    // usage date come from that day and the one before.
    struct Usage: Hashable, Comparable {
      var usageDate: String
      var subscriptionID: String
      var dimension: String
      static func < (a: Usage, b: Usage) -> Bool {
        (a.usageDate, a.subscriptionID, a.dimension) < (b.usageDate, b.subscriptionID, b.dimension)
      }
    }
    let billingDays = Set(usageDates.flatMap { [$0.addingTimeInterval(-86400), $0] }.map(Self.day))
      .sorted()
    var ours: [Usage: Double] = [:]
    for billingDay in billingDays {
      var after: String?
      repeat {
        let page = try await ledger.records(
          status: nil,
          day: billingDay,
          subscriptionID: nil,
          afterKey: after,
          limit: 1000
        )
        for record in page where record.status.isDelivered {
          let usageDate = Self.day(record.effectiveStartTime)
          guard dayTexts.contains(usageDate) else { continue }
          let usage = Usage(
            usageDate: usageDate,
            subscriptionID: record.subscriptionID.lowercased(),
            dimension: record.dimension
          )
          ours[usage, default: 0] += Double(record.quantity) ?? 0
        }
        after = page.count == 1000 ? page.last?.key : nil
      } while after != nil
    }
    var theirs: [Usage: Double] = [:]
    for row in try await marketplace.usageEvents(from: earliest)
    where dayTexts.contains(row.usageDate) {
      theirs[
        Usage(usageDate: row.usageDate, subscriptionID: row.resourceID, dimension: row.dimension),
        default: 0
      ] +=
        row.submittedQuantity
    }
    var mismatches: [Mismatch] = []
    for usage in Set(ours.keys).union(theirs.keys).sorted() {
      let (delivered, recorded) = (ours[usage] ?? 0, theirs[usage] ?? 0)
      guard abs(delivered - recorded) > 0.000_000_5 else { continue }
      mismatches.append(
        Mismatch(
          usageDate: usage.usageDate,
          subscriptionID: usage.subscriptionID,
          dimension: usage.dimension,
          delivered: delivered,
          marketplace: recorded
        )
      )
    }
    Gauge(label: "marketplace_metering_mismatches").record(mismatches.count)
    for mismatch in mismatches {
      logger.error(
        "delivered usage and the marketplace's record differ",
        metadata: [
          "date": "\(mismatch.usageDate)", "subscription": "\(mismatch.subscriptionID)",
          "dimension": "\(mismatch.dimension)", "delivered": "\(mismatch.delivered)",
          "marketplace": "\(mismatch.marketplace)",
        ]
      )
    }
    return mismatches
  }

  /// "YYYY-MM-DD" (UTC), as usage dates and billing days are written.
  static func day(_ date: Date) -> String { date.formatted(MarketplaceClient.dayStyle) }
}

/// Runs the submitter every `interval`, and the reconciliation of yesterday and today every
/// `reconcileInterval`. With several gateway replicas one pass runs at a time, whichever
/// replica's turn comes first (the others skip theirs): every pending record is sent once,
/// not once per replica, and a replica that dies mid-pass leaves the next pass to another
/// within `interval`.
public struct MeteringService: Service {
  private let submitter: MeteringSubmitter
  private let interval: Duration
  private let reconcileInterval: Duration
  private let startAfter: StartupGate?
  private let logger: Logger

  public init(
    submitter: MeteringSubmitter,
    logger: Logger,
    startAfter: StartupGate? = nil,
    interval: Duration = .seconds(60),
    reconcileInterval: Duration = .seconds(3600)
  ) {
    self.submitter = submitter
    self.logger = logger
    self.startAfter = startAfter
    self.interval = interval
    self.reconcileInterval = reconcileInterval
  }

  /// The advisory lock of a metering pass, in the gateway's database ("metering").
  static let passLock: Int64 = 0x6D65_7465_7269_6E67

  public func run() async throws {
    let clock = ContinuousClock()
    var lastReconciled: ContinuousClock.Instant?
    await repeatEvery(interval, startingAfter: startAfter) {
      do {
        guard
          let report = try await submitter.store.exclusively(
            Self.passLock,
            { try await submitter.submitPending() }
          )
        else {
          logger.debug("another gateway replica is submitting metering records")
          return
        }
        if report.sent + report.retrying > 0 {
          logger.notice(
            "metering pass",
            metadata: [
              "sent": "\(report.sent)", "delivered": "\(report.delivered)",
              "rejected": "\(report.rejected)",
              "retrying": "\(report.retrying)",
            ]
          )
        }
        if lastReconciled.map({ clock.now - $0 >= reconcileInterval }) ?? true {
          let now = submitter.settings.clock.now()
          _ = try await submitter.reconcile(usageDates: [now.addingTimeInterval(-86400), now])
          lastReconciled = clock.now
        }
      } catch {
        logger.warning("metering pass failed; will retry", metadata: ["error": "\(error)"])
      }
    }
  }
}
