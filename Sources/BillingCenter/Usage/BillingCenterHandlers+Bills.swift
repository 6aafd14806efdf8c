import AccountAccess
import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteErrors
import SuiteKit
import SwiftProtobuf

/// The bill RPCs of `BillingCenterService`.
extension BillingCenterHandlers {
  package func getDailyBill(
    request: Guance_Billing_V1_GetDailyBillRequest,
    context: ServerContext
  ) async throws -> Guance_Billing_V1_GetDailyBillResponse {
    let bill = try await billing.dailyBill(
      of: try await accountID(request.billingAccountID),
      day: request.day
    )
    return .with { $0.bill = .init(bill) }
  }

  package func listBills(
    request: Guance_Billing_V1_ListBillsRequest,
    context: ServerContext
  )
    async throws -> Guance_Billing_V1_ListBillsResponse
  {
    let bills = try await billing.bills(
      of: try await accountID(request.billingAccountID),
      month: request.month
    )
    return .with {
      $0.bills = bills.map(Guance_Billing_V1_DailyBill.init)
      $0.total = .init(micros: bills.reduce(0) { $0 + $1.totalMicros })
    }
  }
}
