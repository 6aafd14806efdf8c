import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// The usage RPCs of `BillingInternalService`.
extension BillingInternalHandlers {
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
}
