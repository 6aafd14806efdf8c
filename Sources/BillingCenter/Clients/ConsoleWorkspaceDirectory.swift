public import Foundation
public import GRPCCore
import GuanceContracts
import SuiteRPC
import SwiftProtobuf

/// The console's `WorkspaceDirectoryService` as the billing center's `WorkspaceDirectory`.
public struct ConsoleWorkspaceDirectory<Transport: ClientTransport>: WorkspaceDirectory {
  private let client: Guance_Console_V1_WorkspaceDirectoryService.Client<Transport>
  private let calls: ServiceCalls

  public init(client: GRPCClient<Transport>, internalCredential: String) {
    self.client = .init(wrapping: client)
    self.calls = ServiceCalls(
      to: "workspace console",
      internalCredential: internalCredential,
      timeout: .seconds(5)
    )
  }

  public func workspace(id: UUID, ownerSession: String?) async throws -> DirectoryWorkspace? {
    do {
      let reply = try await calls.call(whenSilent: { _ in BillingError.consoleUnavailable }) {
        try await client.lookupWorkspace(
          .with {
            $0.workspaceID = id.uuidString.lowercased()
            $0.ownerSessionToken = ownerSession ?? ""
          },
          metadata: calls.credential,
          options: calls.options
        )
      }
      let status: DirectoryWorkspace.Status =
        switch reply.workspace.status {
        case .suspended: .suspended
        case .closed: .closed
        default: .active
        }
      return DirectoryWorkspace(
        id: id,
        name: reply.workspace.name,
        site: reply.workspace.site,
        status: status
      )
    } catch let error as RPCError where error.code == .notFound {
      return nil
    }
  }
}
