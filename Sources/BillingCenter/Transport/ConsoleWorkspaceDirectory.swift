public import Foundation
public import GRPCCore
import GuanceContracts
import SuiteRuntime
import SwiftProtobuf

/// The console's `WorkspaceDirectoryService` as the billing center's `WorkspaceDirectory`.
public struct ConsoleWorkspaceDirectory<Transport: ClientTransport>: WorkspaceDirectory {
  private let client: Guance_Console_V1_WorkspaceDirectoryService.Client<Transport>
  private let metadata: Metadata

  public init(client: GRPCClient<Transport>, internalCredential: String) {
    self.client = .init(wrapping: client)
    self.metadata = ["authorization": "Bearer \(internalCredential)"]
  }

  public func workspace(id: UUID, ownerSession: String?) async throws -> DirectoryWorkspace? {
    var options = CallOptions.defaults
    // Or sooner, what is left of the deadline of the RPC being served.
    options.timeout = RequestContext.current.callTimeout(.seconds(5))
    do {
      let reply = try await client.lookupWorkspace(
        .with {
          $0.workspaceID = id.uuidString.lowercased()
          $0.ownerSessionToken = ownerSession ?? ""
        },
        metadata: metadata,
        options: options
      )
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
    } catch let error as RPCError where error.code.isSilence {
      throw BillingError.consoleUnavailable
    }
  }
}
