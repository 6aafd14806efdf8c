public import Foundation
public import GRPCCore
import GuanceContracts
import SwiftProtobuf

/// billing-center's cloud-account RPCs as the gateway's `BillingDirectory`.
public struct GRPCBillingDirectory<Transport: ClientTransport>: BillingDirectory {
  private let client: Guance_Billing_V1_BillingInternalService.Client<Transport>
  private let center: Guance_Billing_V1_BillingCenterService.Client<Transport>
  private let metadata: Metadata

  public init(client: GRPCClient<Transport>, internalCredential: String) {
    self.client = .init(wrapping: client)
    self.center = .init(wrapping: client)
    self.metadata = ["authorization": "Bearer \(internalCredential)"]
  }

  private var options: CallOptions {
    var options = CallOptions.defaults
    options.timeout = .seconds(5)
    return options
  }

  public func linkedAccount(tenantID: String, objectID: String) async throws -> LinkedBillingAccount? {
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

  public func startBinding(username: String) async throws -> BindingChallenge {
    let reply = try await center.startBindingVerification(
      .with { $0.username = username }, metadata: metadata, options: options)
    return BindingChallenge(
      challengeID: reply.challengeID, maskedEmail: reply.maskedEmail,
      resendAfterSeconds: Int(reply.resendAfterSeconds))
  }

  public func confirmBinding(
    challengeID: String, code: String, username: String, tenantID: String, objectID: String,
    subscriptionID: String
  ) async throws -> LinkedBillingAccount {
    let reply = try await client.confirmBinding(
      .with {
        $0.challengeID = challengeID
        $0.code = code
        $0.username = username
        $0.identity = .with {
          $0.provider = .azure
          $0.tenantID = tenantID
          $0.objectID = objectID
        }
        $0.marketplaceSubscriptionID = subscriptionID
      }, metadata: metadata, options: options)
    guard let id = UUID(uuidString: reply.billingAccount.id) else {
      throw RPCError(code: .internalError, message: "billing center answered without an account id")
    }
    return LinkedBillingAccount(id: id, username: reply.billingAccount.username)
  }

  public func workspaces(of billingAccountID: UUID) async throws -> [BindableWorkspace] {
    let reply = try await center.listBoundWorkspaces(
      .with { $0.billingAccountID = billingAccountID.uuidString.lowercased() }, metadata: metadata, options: options)
    return reply.bindings.map { binding in
      let status =
        switch binding.status {
        case .active: "active"
        case .suspended: "suspended"
        case .closed: "closed"
        default: "unknown"
        }
      return BindableWorkspace(id: binding.workspaceID, name: binding.workspaceName, site: binding.site, status: status)
    }
  }
}
