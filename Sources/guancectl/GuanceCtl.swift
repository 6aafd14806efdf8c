import ArgumentParser
import Foundation
import GRPCCore
import GuanceContracts
import SwiftProtobuf

/// guancectl: operators' tool over the marketplace gateway's admin service.
@main
struct GuanceCtl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "guancectl",
    abstract:
      "Inspect and repair marketplace subscriptions, activations, lifecycle operations and metering.",
    subcommands: [Subscriptions.self, Activations.self, Operations.self, Metering.self]
  )
}

// MARK: Subscriptions

struct Subscriptions: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Subscriptions the gateway follows.",
    subcommands: [List.self, Show.self, ChangePlan.self, ChangeQuantity.self, Cancel.self]
  )

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List subscriptions, newest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this marketplace status, e.g. Subscribed, Suspended, Unsubscribed.")
    var status = ""
    @Option(help: "Only this plan.") var plan = ""
    @Option(help: "At most this many (1 to 1000).") var limit: Int32 = 100

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.listSubscriptions(
          .with {
            $0.marketplaceStatus = status
            $0.planID = plan
            $0.limit = limit
          },
          metadata: metadata
        )
      }
      try global.show(reply) { reply in
        var table = Table(
          "subscription",
          "status",
          "plan",
          "seats",
          "activation",
          "purchaser",
          "term ends"
        )
        for subscription in reply.subscriptions {
          table.add(
            subscription.subscriptionID,
            subscription.marketplaceStatus,
            subscription.planID,
            subscription.quantity == 0 ? "-" : "\(subscription.quantity)",
            subscription.activationStep,
            subscription.purchaserEmail,
            text(subscription.termEnd, set: subscription.hasTermEnd)
          )
        }
        table.print()
      }
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "One subscription with its audit trail, sessions, activation and operations."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The marketplace subscription id.") var subscription: String

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.getSubscription(
          .with { $0.subscriptionID = subscription },
          metadata: metadata
        )
      }
      try global.show(reply) { reply in
        let subscription = reply.subscription
        print("Subscription  \(subscription.subscriptionID)  \(subscription.name)")
        print(
          "Status        \(subscription.marketplaceStatus) (activation: \(subscription.activationStep))"
        )
        print(
          "Plan          \(subscription.planID)\(subscription.quantity > 0 ? ", \(subscription.quantity) seats" : "")"
        )
        print("Purchaser     \(subscription.purchaserEmail)")
        print(
          "Term          \(text(subscription.termStart, set: subscription.hasTermStart)) to \(text(subscription.termEnd, set: subscription.hasTermEnd))"
        )
        if subscription.hasDataKeptUntil {
          print("Data kept to  \(text(subscription.dataKeptUntil, set: true))")
        }
        if reply.hasSaga {
          let saga = reply.saga
          print(
            "\nActivation: \(saga.step), workspace \(saga.workspaceID) (\(saga.workspaceOrigin)), \(saga.retries) retries\(saga.problem.isEmpty ? "" : ", last problem: \(saga.problem)")"
          )
        }
        print("\nSessions")
        var sessions = Table("branch", "opened", "expires")
        for session in reply.sessions {
          sessions.add(
            session.branch,
            text(session.createdAt, set: true),
            text(session.expiresAt, set: true)
          )
        }
        sessions.print()
        print("\nOperations")
        Operations.table(reply.operations).print()
        print("\nAudit trail")
        var audit = Table("at", "event", "detail")
        for entry in reply.audit {
          audit.add(text(entry.at, set: true), entry.event, text(entry.detail))
        }
        audit.print()
      }
    }
  }

  /// Prints a vendor-started change's progress as it comes.
  static func follow(
    _ global: GlobalOptions,
    _ subscription: String,
    _ change: Guance_Gateway_V1_ChangeSubscriptionRequest.OneOf_Change
  ) async throws {
    let final = try await global.withAdmin { admin, metadata in
      try await admin.changeSubscription(
        .with {
          $0.subscriptionID = subscription
          $0.change = change
        },
        metadata: metadata
      ) { response in
        var last: Guance_Gateway_V1_ChangeSubscriptionProgress?
        for try await progress in response.messages {
          last = progress
          if global.json {
            print(try progress.jsonString())
          } else {
            let status =
              progress.marketplaceStatus.isEmpty ? "" : " [\(progress.marketplaceStatus)]"
            print(
              "\(progress.stage)\(status) operation \(progress.operationID)\(progress.message.isEmpty ? "" : ": \(progress.message)")"
            )
          }
        }
        return last
      }
    }
    if final?.stage == "failed" { throw ExitCode.failure }
  }

  struct ChangePlan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Move a subscription to another plan through the marketplace; applied once it confirms."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var subscription: String
    @Argument var plan: String

    func run() async throws { try await Subscriptions.follow(global, subscription, .planID(plan)) }
  }

  struct ChangeQuantity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Change a per-seat subscription's seats through the marketplace; applied once it confirms."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var subscription: String
    @Argument var seats: Int32

    func run() async throws {
      try await Subscriptions.follow(global, subscription, .quantity(seats))
    }
  }

  struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Cancel a subscription at the marketplace (final); its data is kept for the retention period."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var subscription: String
    @Flag(help: "Confirm: cancelling cannot be undone.") var yes = false

    func run() async throws {
      guard yes else { throw ValidationError("cancelling cannot be undone: add --yes to confirm") }
      try await Subscriptions.follow(global, subscription, .cancel(true))
    }
  }
}

// MARK: Activations

struct Activations: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Activations that did not finish.",
    subcommands: [Stuck.self, Retry.self]
  )

  struct Stuck: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Failed activations, and unfinished ones not moving."
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Unfinished for at least this many seconds.") var olderThan: Int32 = 300

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.listStuckActivations(
          .with { $0.olderThanSeconds = olderThan },
          metadata: metadata
        )
      }
      try global.show(reply) { reply in
        var table = Table("subscription", "step", "retries", "next attempt", "problem")
        for saga in reply.activations {
          table.add(
            saga.subscriptionID,
            saga.step,
            "\(saga.retries)",
            text(saga.nextAttemptAt, set: true),
            text(saga.problem)
          )
        }
        table.print()
      }
    }
  }

  struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run a stuck or failed activation again now."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var subscription: String

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.retryActivation(
          .with { $0.subscriptionID = subscription },
          metadata: metadata
        )
      }
      try global.show(reply) { reply in
        print(
          "activation of \(reply.activation.subscriptionID) is due now (step \(reply.activation.step))"
        )
      }
    }
  }
}

// MARK: Lifecycle operations

struct Operations: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Lifecycle operations: webhook deliveries, reconciler finds, vendor-started changes.",
    subcommands: [List.self, Replay.self]
  )

  static func table(_ operations: [Guance_Gateway_V1_LifecycleOperation]) -> Table {
    var table = Table("operation", "action", "source", "state", "deliveries", "received", "outcome")
    for operation in operations {
      table.add(
        operation.id,
        operation.action,
        operation.source,
        operation.state,
        "\(operation.deliveries)",
        text(operation.receivedAt, set: operation.hasReceivedAt),
        text(
          operation.problem.isEmpty
            ? operation.outcome : "\(operation.outcome) (last problem: \(operation.problem))"
        )
      )
    }
    return table
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List operations, newest first.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this subscription's.") var subscription = ""
    @Option(help: "Only this state: received, applied, declined, failed, unverified.") var state =
      ""
    @Option(help: "At most this many (1 to 1000).") var limit: Int32 = 100

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.listLifecycleOperations(
          .with {
            $0.subscriptionID = subscription
            $0.state = state
            $0.limit = limit
          },
          metadata: metadata
        )
      }
      try global.show(reply) { Operations.table($0.operations).print() }
    }
  }

  struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Do an operation again (it is verified with the marketplace first)."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var operation: String

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.replayLifecycleOperation(
          .with { $0.operationID = operation },
          metadata: metadata
        )
      }
      try global.show(reply) { reply in
        print("operation \(reply.operation.id) (\(reply.operation.action)) is due again")
      }
    }
  }
}

// MARK: Metering

struct Metering: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Usage reported to the marketplace.",
    subcommands: [List.self, Resubmit.self, Park.self, Run.self, Reconcile.self]
  )

  static func print(_ records: [Guance_Gateway_V1_MeteringRecord]) {
    var table = Table("key", "status", "quantity", "attempts", "marketplace", "message")
    for record in records {
      table.add(
        record.key,
        record.status,
        record.quantity,
        "\(record.attempts)",
        text(record.marketplaceStatus),
        text(record.lastMessage)
      )
    }
    table.print()
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "List metering records, oldest first."
    )
    @OptionGroup var global: GlobalOptions
    @Option(help: "Only this status: pending, accepted, duplicate, rejected, parked.") var status =
      ""
    @Option(help: "Only this billing day (YYYY-MM-DD).") var day = ""
    @Option(help: "Only this subscription's.") var subscription = ""
    @Option(help: "At most this many (1 to 1000), in key order.") var limit: Int32 = 100
    @Option(help: "The next page: records after this key.") var after = ""

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.listMeteringRecords(
          .with {
            $0.status = status
            $0.day = day
            $0.subscriptionID = subscription
            $0.afterKey = after
            $0.limit = limit
          },
          metadata: metadata
        )
      }
      try global.show(reply) { Metering.print($0.records) }
    }
  }

  /// Resubmits or parks one record and shows it.
  static func dispose(
    _ global: GlobalOptions,
    key: String,
    reason: String,
    resubmit: Bool
  ) async throws {
    let record = try await global.withAdmin { admin, metadata in
      resubmit
        ? try await admin.resubmitMeteringRecord(
          .with {
            $0.key = key
            $0.reason = reason
          },
          metadata: metadata
        ).record
        : try await admin.parkMeteringRecord(
          .with {
            $0.key = key
            $0.reason = reason
          },
          metadata: metadata
        ).record
    }
    try global.show(record) { Metering.print([$0]) }
  }

  struct Resubmit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Send a rejected or parked record again (same key: never billed twice)."
    )
    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Option(help: "Why, kept with the record.") var reason: String

    func run() async throws {
      try await Metering.dispose(global, key: key, reason: reason, resubmit: true)
    }
  }

  struct Park: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Keep a record unsent.")
    @OptionGroup var global: GlobalOptions
    @Argument var key: String
    @Option(help: "Why, kept with the record.") var reason: String

    func run() async throws {
      try await Metering.dispose(global, key: key, reason: reason, resubmit: false)
    }
  }

  struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Submit pending records now.")
    @OptionGroup var global: GlobalOptions

    func run() async throws {
      if !global.json { Swift.print("submitting pending metering records...") }
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.runMetering(.init(), metadata: metadata)
      }
      try global.show(reply) { reply in
        Swift.print(
          "sent \(reply.sent): \(reply.delivered) delivered, \(reply.rejected) rejected, \(reply.retrying) to retry"
        )
        if !reply.nearDeadline.isEmpty {
          Swift.print(
            "near the 24-hour cutoff and undelivered: \(reply.nearDeadline.joined(separator: ", "))"
          )
        }
      }
    }
  }

  struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Compare a day's delivered usage with the marketplace's record of it."
    )
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The day of the reported hours, YYYY-MM-DD (UTC).") var date: String

    func run() async throws {
      let reply = try await global.withAdmin { admin, metadata in
        try await admin.reconcileUsage(.with { $0.date = date }, metadata: metadata)
      }
      try global.show(reply) { reply in
        var table = Table("subscription", "dimension", "delivered", "marketplace")
        for mismatch in reply.mismatches {
          table.add(
            mismatch.subscriptionID,
            mismatch.dimension,
            mismatch.delivered,
            mismatch.marketplace
          )
        }
        table.print(empty: "no mismatches for \(date)")
      }
      if !reply.mismatches.isEmpty { throw ExitCode(2) }
    }
  }
}
