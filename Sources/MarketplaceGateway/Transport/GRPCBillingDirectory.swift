public import Foundation
public import GRPCCore
import GuanceContracts
import SwiftProtobuf

/// billing-center's `FindBillingAccountByCloudAccount` as the gateway's `BillingDirectory`.
public struct GRPCBillingDirectory<Transport: ClientTransport>: BillingDirectory {
  private let client: Guance_Billing_V1_BillingInternalService.Client<Transport>
  private let metadata: Metadata

  public init(client: GRPCClient<Transport>, internalCredential: String) {
    self.client = .init(wrapping: client)
    self.metadata = ["authorization": "Bearer \(internalCredential)"]
  }

  public func linkedAccount(tenantID: String, objectID: String) async throws -> LinkedBillingAccount? {
    var options = CallOptions.defaults
    options.timeout = .seconds(5)
    let reply = try await client.findBillingAccountByCloudAccount(
      .with {
        $0.identity = .with {
          $0.provider = .azure
          $0.tenantID = tenantID
          $0.objectID = objectID
        }
      }, metadata: metadata, options: options)
    guard reply.hasBillingAccount, let id = UUID(uuidString: reply.billingAccount.id) else { return nil }
    return LinkedBillingAccount(id: id, username: reply.billingAccount.username)
  }
}
