import Foundation
import GRPCCore
import GuanceContracts
import SuiteErrors
import SwiftProtobuf

/// `guance.billing.v1.BillingInternalService`, for the suite's own services (the runtime
/// checks their internal credential before these run).
package struct BillingInternalHandlers: Guance_Billing_V1_BillingInternalService
    .SimpleServiceProtocol
{
  let billing: GuanceBilling

  package init(billing: GuanceBilling) {
    self.billing = billing
  }

}
