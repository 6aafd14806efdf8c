import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// The metering and subscription status RPCs of `BillingInternalService`.
extension BillingInternalHandlers {
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
