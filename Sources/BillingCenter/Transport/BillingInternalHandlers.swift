import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// `guance.billing.v1.BillingInternalService`, for the suite's own services (the runtime
/// checks their internal credential before these run).
package struct BillingInternalHandlers: Guance_Billing_V1_BillingInternalService
    .SimpleServiceProtocol
{
  private let billing: GuanceBilling

  package init(billing: GuanceBilling) {
    self.billing = billing
  }

  package func findBillingAccountByCloudAccount(
    request: Guance_Billing_V1_FindBillingAccountByCloudAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_FindBillingAccountByCloudAccountResponse {
    let found = try await billing.findByCloudIdentity(request.identity.domain)
    return .with {
      if let (cloud, account) = found {
        $0.billingAccount = .init(account)
        $0.cloudAccount = .init(cloud)
      }
    }
  }

  package func linkCloudAccount(
    request: Guance_Billing_V1_LinkCloudAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_LinkCloudAccountResponse {
    let accountID = try billing.billingAccountID(
      requested: request.billingAccountID,
      caller: .suiteService
    )
    let cloud = try await billing.linkCloudAccount(
      request.identity.domain,
      to: accountID,
      subscriptionID: request.marketplaceSubscriptionID
    )
    return .with { $0.cloudAccount = .init(cloud) }
  }

  package func confirmBinding(
    request: Guance_Billing_V1_ConfirmBindingRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ConfirmBindingResponse {
    let (account, cloud) = try await billing.confirmBinding(
      challengeID: request.challengeID,
      code: request.code,
      username: request.username,
      identity: request.identity.domain,
      subscriptionID: request.marketplaceSubscriptionID
    )
    return .with {
      $0.billingAccount = .init(account)
      $0.cloudAccount = .init(cloud)
    }
  }

  package func recordUsage(
    request: Guance_Billing_V1_RecordUsageRequest,
    context: ServerContext
  )
    async throws -> Guance_Billing_V1_RecordUsageResponse
  {
    let results = try await billing.recordUsage(
      request.events.map { event in
        GuanceBilling.RawUsageEvent(
          idempotencyKey: event.idempotencyKey,
          workspaceID: event.workspaceID,
          billingItem: event.billingItem,
          quantity: event.quantity,
          usageTime: event.hasUsageTime ? event.usageTime.date : nil
        )
      }
    )
    return .with {
      $0.results = results.map { $0 == .accepted ? .accepted : .duplicate }
    }
  }

  package func closeDay(
    request: Guance_Billing_V1_CloseDayRequest,
    context: ServerContext
  )
    async throws -> Guance_Billing_V1_CloseDayResponse
  {
    let closing = try await billing.closeDay(request.day)
    return .with {
      $0.closedNow = closing.closedNow
      $0.billLines = Int32(clamping: closing.billLines)
      $0.meteringRecords = Int32(clamping: closing.meteringRecords)
    }
  }

  package func listPendingMeteringRecords(
    request: Guance_Billing_V1_ListPendingMeteringRecordsRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ListPendingMeteringRecordsResponse {
    let records = try await billing.pendingMeteringRecords(limit: Int(request.limit))
    return .with { $0.records = records.map(Guance_Billing_V1_MeteringRecord.init) }
  }

  package func acknowledgeMeteringRecords(
    request: Guance_Billing_V1_AcknowledgeMeteringRecordsRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_AcknowledgeMeteringRecordsResponse {
    let unknown = try await billing.acknowledge(request.acknowledgements.map(\.domain))
    return .with { $0.unknownKeys = unknown }
  }

  package func setSubscriptionStatus(
    request: Guance_Billing_V1_SetSubscriptionStatusRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_SetSubscriptionStatusResponse {
    let change = try await billing.setSubscriptionStatus(
      request.marketplaceSubscriptionID,
      to: request.status.domain,
      at: request.hasEffectiveAt ? request.effectiveAt.date : nil
    )
    return .with {
      $0.changed = change.changed
      $0.status = .init(change.status)
      $0.workspaceIds = change.workspaceIDs.map { $0.uuidString.lowercased() }
    }
  }

  package func listMeteringRecords(
    request: Guance_Billing_V1_ListMeteringRecordsRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_ListMeteringRecordsResponse {
    if case .UNRECOGNIZED = request.status {
      throw ServiceError.invalid(field: "status", "must be a metering record status")
    }
    let records = try await billing.meteringRecords(
      status: request.status.domain,
      day: request.day,
      subscriptionID: request.marketplaceSubscriptionID,
      afterKey: request.afterKey,
      limit: Int(request.limit)
    )
    return .with { $0.records = records.map(Guance_Billing_V1_MeteringRecord.init) }
  }

  package func setMeteringRecordDisposition(
    request: Guance_Billing_V1_SetMeteringRecordDispositionRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_SetMeteringRecordDispositionResponse {
    let disposition: MeteringRecord.Disposition? =
      switch request.disposition {
      case .resubmit: .resubmit
      case .park: .park
      case .unspecified, .UNRECOGNIZED: nil
      }
    let record = try await billing.setDisposition(
      disposition,
      ofRecord: request.key,
      reason: request.reason
    )
    return .with { $0.record = .init(record) }
  }
}
