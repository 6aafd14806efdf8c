public import GRPCCore
import GuanceContracts
import SwiftProtobuf

/// workspace-console's directory (internal credential) as the lifecycle's `WorkspaceStatuses`.
public struct GRPCWorkspaceStatuses<Transport: ClientTransport>: WorkspaceStatuses {
  private let directory: Guance_Console_V1_WorkspaceDirectoryService.Client<Transport>
  private let metadata: Metadata

  public init(client: GRPCClient<Transport>, internalCredential: String) {
    self.directory = .init(wrapping: client)
    self.metadata = ["authorization": "Bearer \(internalCredential)"]
  }

  public func set(workspaceID: String, to state: WorkspaceState, reason: String) async throws {
    var options = CallOptions.defaults
    options.timeout = .seconds(5)
    do {
      _ = try await unavailableAsDependency(service: "workspace console") {
        try await directory.setWorkspaceStatus(
          .with {
            $0.workspaceID = workspaceID
            $0.status = state == .active ? .active : .suspended
            $0.reason = reason
          }, metadata: metadata, options: options)
      }
    } catch let error as RPCError where error.code == .failedPrecondition || error.code == .notFound {
      // Closed (or gone) meanwhile: the console's own decision stands.
      return
    } catch let error as RPCError where error.code == .invalidArgument {
      throw DependencyRefused(service: "workspace console", reason: error.message)
    }
  }
}
