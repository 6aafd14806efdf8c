import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import MarketplaceClient
import SuiteErrors
import SwiftProtobuf

/// `guance.gateway.v1.GatewayAdminService` for operators (internal credential, checked by the
/// runtime before these run). Inputs are bounded and refused with field violations.
package struct GatewayAdminHandlers: Guance_Gateway_V1_GatewayAdminService.SimpleServiceProtocol {
  private let store: any AdminStore
  private let lifecycle: SubscriptionLifecycle
  private let submitter: MeteringSubmitter

  package init(
    store: any AdminStore,
    lifecycle: SubscriptionLifecycle,
    submitter: MeteringSubmitter
  ) {
    self.store = store
    self.lifecycle = lifecycle
    self.submitter = submitter
  }

  // MARK: Field checks

  private static func limit(_ raw: Int32) throws -> Int {
    guard (0...1000).contains(raw) else {
      throw ServiceError.invalid(field: "limit", "must be 1 to 1000 (0 means 100)")
    }
    return raw == 0 ? 100 : Int(raw)
  }

  /// An identifier as the marketplace and the billing center write them (printable, bounded).
  private static func identifier(_ raw: String, field: String) throws -> String {
    try checkedIdentifier(raw, field: field, "is required: 1 to 255 printable characters")
  }

  /// The same, or nil when left empty.
  private static func optionalIdentifier(_ raw: String, field: String) throws -> String? {
    raw.isEmpty
      ? nil : try checkedIdentifier(raw, field: field, "must be 1 to 255 printable characters")
  }

  private static func checkedIdentifier(
    _ raw: String,
    field: String,
    _ rule: String
  ) throws -> String {
    guard raw.isPrintableASCII(length: 1...255) else {
      throw ServiceError.invalid(field: field, rule)
    }
    return raw
  }

  private static func subscriptionID(_ raw: String) throws -> String {
    try identifier(raw.lowercased(), field: "subscription_id")
  }

  private static func optionalSubscriptionID(_ raw: String) throws -> String? {
    try optionalIdentifier(raw.lowercased(), field: "subscription_id")
  }

  private static func reason(_ raw: String) throws -> String {
    let reason = raw.trimmingCharacters(in: .whitespacesAndNewlines)
    guard (1...500).contains(reason.count) else {
      throw ServiceError.invalid(field: "reason", "must be 1 to 500 characters")
    }
    return reason
  }

  private static func notFound(_ type: String, _ name: String) -> ServiceError {
    ServiceError(
      .notFound(resourceType: type, name: name),
      "\(type.replacingOccurrences(of: "_", with: " ")) \(name) not found"
    )
  }

  // MARK: Subscriptions and activations

  package func listSubscriptions(
    request: Guance_Gateway_V1_ListSubscriptionsRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ListSubscriptionsResponse
  {
    let limit = try Self.limit(request.limit)
    let status = try Self.optionalIdentifier(request.marketplaceStatus, field: "marketplace_status")
    let plan = try Self.optionalIdentifier(request.planID, field: "plan_id")
    let found = try await store.subscriptions(status: status, planID: plan, limit: limit)
    return .with { $0.subscriptions = found.map(Guance_Gateway_V1_FollowedSubscription.init) }
  }

  package func getSubscription(
    request: Guance_Gateway_V1_GetSubscriptionRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_GetSubscriptionResponse
  {
    let id = try Self.subscriptionID(request.subscriptionID)
    guard let overview = try await store.subscriptionOverview(id) else {
      throw Self.notFound("subscription", request.subscriptionID)
    }
    // Independent reads, side by side.
    async let auditRead = store.auditEntries(subscriptionID: id)
    async let sessionsRead = store.sessions(subscriptionID: id)
    async let sagaRead = store.sagaOverview(subscriptionID: id)
    async let operationsRead = store.lifecycleOperations(
      subscriptionID: id,
      state: nil,
      limit: 1000
    )
    let (audit, sessions, saga, operations) = try await (
      auditRead, sessionsRead, sagaRead, operationsRead
    )
    return .with {
      $0.subscription = .init(overview)
      $0.audit = audit.map { entry in
        .with {
          $0.event = entry.event
          $0.detail = entry.detail
          $0.correlationID = entry.correlationID
          $0.at = Google_Protobuf_Timestamp(date: entry.at)
        }
      }
      $0.sessions = sessions.map { session in
        .with {
          $0.branch = session.branch
          $0.createdAt = Google_Protobuf_Timestamp(date: session.createdAt)
          $0.expiresAt = Google_Protobuf_Timestamp(date: session.expiresAt)
        }
      }
      if let saga { $0.saga = .init(saga) }
      $0.operations = operations.map(Guance_Gateway_V1_LifecycleOperation.init)
    }
  }

  package func listStuckActivations(
    request: Guance_Gateway_V1_ListStuckActivationsRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ListStuckActivationsResponse
  {
    guard (0...30 * 86400).contains(request.olderThanSeconds) else {
      throw ServiceError.invalid(field: "older_than_seconds", "must be 0 to 2592000 (0 means 300)")
    }
    let age = request.olderThanSeconds == 0 ? 300 : Int(request.olderThanSeconds)
    let stuck = try await store.stuckSagas(changedBefore: Date().addingTimeInterval(-Double(age)))
    return .with { $0.activations = stuck.map(Guance_Gateway_V1_SagaSummary.init) }
  }

  package func retryActivation(
    request: Guance_Gateway_V1_RetryActivationRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_RetryActivationResponse
  {
    let id = try Self.subscriptionID(request.subscriptionID)
    guard
      let saga = try await store.retrySaga(
        subscriptionID: id,
        correlationID: "admin/\(UUID().uuidString.lowercased())"
      )
    else {
      guard let existing = try await store.sagaOverview(subscriptionID: id) else {
        throw Self.notFound("activation", id)
      }
      throw ServiceError(
        .failedPrecondition(type: "ACTIVATION_STATE", subject: "subscription/\(id)"),
        reason: existing.record.step == .activated ? "ACTIVATION_FINISHED" : "ACTIVATION_RUNNING",
        existing.record.step == .activated
          ? "the activation has finished"
          : "the activation is being run now; look again in a moment"
      )
    }
    return .with { $0.activation = .init(saga) }
  }

  // MARK: Lifecycle operations

  package func listLifecycleOperations(
    request: Guance_Gateway_V1_ListLifecycleOperationsRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ListLifecycleOperationsResponse
  {
    let limit = try Self.limit(request.limit)
    let subscription = try Self.optionalSubscriptionID(request.subscriptionID)
    var state: LifecycleOperation.State?
    if !request.state.isEmpty {
      guard let parsed = LifecycleOperation.State(rawValue: request.state) else {
        throw ServiceError.invalid(
          field: "state",
          "must be one of \(LifecycleOperation.State.allCases.map(\.rawValue).joined(separator: ", "))"
        )
      }
      state = parsed
    }
    let operations = try await store.lifecycleOperations(
      subscriptionID: subscription,
      state: state,
      limit: limit
    )
    return .with { $0.operations = operations.map(Guance_Gateway_V1_LifecycleOperation.init) }
  }

  package func replayLifecycleOperation(
    request: Guance_Gateway_V1_ReplayLifecycleOperationRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ReplayLifecycleOperationResponse
  {
    let id = try Self.identifier(request.operationID.lowercased(), field: "operation_id")
    guard let operation = try await store.replayOperation(id) else {
      if try await store.operationIsLeased(id) {
        throw ServiceError(
          .failedPrecondition(type: "OPERATION_STATE", subject: "lifecycle_operation/\(id)"),
          reason: "OPERATION_RUNNING",
          "a worker is doing this operation now; replay it once it has finished"
        )
      }
      throw Self.notFound("lifecycle_operation", id)
    }
    return .with { $0.operation = .init(operation) }
  }

  // MARK: Metering

  private static func meteringStatus(_ raw: String) throws -> MeteringRecord.Status? {
    if raw.isEmpty { return nil }
    guard let status = MeteringRecord.Status(rawValue: raw) else {
      throw ServiceError.invalid(
        field: "status",
        "must be one of \(MeteringRecord.Status.allCases.map(\.rawValue).joined(separator: ", "))"
      )
    }
    return status
  }

  package func listMeteringRecords(
    request: Guance_Gateway_V1_ListMeteringRecordsRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ListMeteringRecordsResponse
  {
    let records = try await submitter.ledger.records(
      status: try Self.meteringStatus(request.status),
      day: request.day.isEmpty ? nil : request.day,
      subscriptionID: try Self.optionalSubscriptionID(request.subscriptionID),
      afterKey: try Self.optionalIdentifier(request.afterKey, field: "after_key"),
      limit: try Self.limit(request.limit)
    )
    return .with { $0.records = records.map(Guance_Gateway_V1_MeteringRecord.init) }
  }

  package func resubmitMeteringRecord(
    request: Guance_Gateway_V1_ResubmitMeteringRecordRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ResubmitMeteringRecordResponse
  {
    let key = try Self.identifier(request.key, field: "key")
    let record = try await submitter.ledger.dispose(
      key: key,
      resubmit: true,
      reason: try Self.reason(request.reason)
    )
    return .with { $0.record = .init(record) }
  }

  package func parkMeteringRecord(
    request: Guance_Gateway_V1_ParkMeteringRecordRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ParkMeteringRecordResponse
  {
    let key = try Self.identifier(request.key, field: "key")
    let record = try await submitter.ledger.dispose(
      key: key,
      resubmit: false,
      reason: try Self.reason(request.reason)
    )
    return .with { $0.record = .init(record) }
  }

  package func runMetering(
    request: Guance_Gateway_V1_RunMeteringRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_RunMeteringResponse
  {
    let report = try await submitter.submitPending()
    return .with {
      $0.sent = Int32(clamping: report.sent)
      $0.delivered = Int32(clamping: report.delivered)
      $0.rejected = Int32(clamping: report.rejected)
      $0.retrying = Int32(clamping: report.retrying)
      $0.nearDeadline = report.nearDeadline
    }
  }

  package func reconcileUsage(
    request: Guance_Gateway_V1_ReconcileUsageRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_ReconcileUsageResponse
  {
    guard request.date.count == 10, let date = try? MarketplaceClient.dayStyle.parse(request.date)
    else { throw ServiceError.invalid(field: "date", "must be a date as YYYY-MM-DD") }
    let mismatches = try await submitter.reconcile(usageDate: date)
    return .with {
      $0.mismatches = mismatches.map { mismatch in
        .with {
          $0.date = mismatch.usageDate
          $0.subscriptionID = mismatch.subscriptionID
          $0.dimension = mismatch.dimension
          $0.delivered = "\(mismatch.delivered)"
          $0.marketplace = "\(mismatch.marketplace)"
        }
      }
    }
  }

  // MARK: Vendor-started changes

  package func changeSubscription(
    request: Guance_Gateway_V1_ChangeSubscriptionRequest,
    response: RPCWriter<Guance_Gateway_V1_ChangeSubscriptionProgress>,
    context: ServerContext
  ) async throws {
    let id = try Self.subscriptionID(request.subscriptionID)
    let change: SubscriptionLifecycle.VendorChange
    switch request.change {
    case .planID(let plan): change = .plan(try Self.identifier(plan, field: "plan_id"))
    case .quantity(let quantity):
      guard quantity > 0 else { throw ServiceError.invalid(field: "quantity", "must be positive") }
      change = .quantity(Int(quantity))
    case .cancel(true): change = .cancel
    case .cancel(false), nil:
      throw ServiceError.invalid(field: "change", "needs plan_id, quantity or cancel")
    }
    try await lifecycle.start(change, on: id) { progress in
      try await response.write(
        .with {
          $0.stage = progress.stage.rawValue
          $0.operationID = progress.operationID
          $0.marketplaceStatus = progress.marketplaceStatus
          $0.message = progress.message
        }
      )
    }
  }
}

// MARK: Domain → wire

extension Guance_Gateway_V1_FollowedSubscription {
  init(_ overview: SubscriptionOverview) {
    self.init()
    let subscription = overview.subscription
    subscriptionID = subscription.id
    name = subscription.name
    planID = subscription.planID
    quantity = Int32(clamping: subscription.quantity ?? 0)
    marketplaceStatus = subscription.status.name
    purchaserEmail = subscription.purchaser.email
    activationStep = overview.activationStep?.rawValue ?? "none"
    if let start = subscription.termStart { termStart = Google_Protobuf_Timestamp(date: start) }
    if let end = subscription.termEnd { termEnd = Google_Protobuf_Timestamp(date: end) }
    if let kept = overview.dataKeptUntil { dataKeptUntil = Google_Protobuf_Timestamp(date: kept) }
    createdAt = Google_Protobuf_Timestamp(date: overview.createdAt)
    updatedAt = Google_Protobuf_Timestamp(date: overview.updatedAt)
  }
}

extension Guance_Gateway_V1_SagaSummary {
  init(_ saga: SagaOverview) {
    self.init()
    subscriptionID = saga.record.subscriptionID
    billingAccountID = saga.record.billingAccountID.uuidString.lowercased()
    workspaceID = saga.record.workspaceID.uuidString.lowercased()
    workspaceOrigin = saga.record.origin.rawValue
    step = saga.record.step.rawValue
    retries = Int32(clamping: saga.record.retries)
    problem = saga.record.problem ?? ""
    nextAttemptAt = Google_Protobuf_Timestamp(date: saga.nextAttemptAt)
    updatedAt = Google_Protobuf_Timestamp(date: saga.updatedAt)
  }
}

extension Guance_Gateway_V1_LifecycleOperation {
  init(_ operation: LifecycleOperation) {
    self.init()
    id = operation.id
    subscriptionID = operation.subscriptionID
    action = operation.action
    planID = operation.planID ?? ""
    quantity = Int32(clamping: operation.quantity ?? 0)
    source = operation.source.rawValue
    state = operation.state.rawValue
    outcome = operation.outcome ?? ""
    problem = operation.problem ?? ""
    deliveries = Int32(clamping: operation.deliveries)
    attempts = Int32(clamping: operation.attempts)
    if let received = operation.receivedAt {
      receivedAt = Google_Protobuf_Timestamp(date: received)
    }
    if let finished = operation.finishedAt {
      finishedAt = Google_Protobuf_Timestamp(date: finished)
    }
  }
}

extension Guance_Gateway_V1_MeteringRecord {
  init(_ record: MeteringRecord) {
    self.init()
    key = record.key
    subscriptionID = record.subscriptionID
    dimension = record.dimension
    effectiveStartTime = Google_Protobuf_Timestamp(date: record.effectiveStartTime)
    quantity = record.quantity
    attempts = Int32(clamping: record.attempts)
    status = record.status.rawValue
    marketplaceStatus = record.marketplaceStatus
    lastMessage = record.lastMessage
    day = record.day
  }
}
