public import GRPCCore
import GuanceContracts
import SuiteRPC
import SwiftProtobuf

/// workspace-console's directory (internal credential) as the lifecycle's `WorkspaceStatuses`.
public struct GRPCWorkspaceStatuses<Transport: ClientTransport>: WorkspaceStatuses {
  private let directory: Guance_Console_V1_WorkspaceDirectoryService.Client<Transport>
  private let calls: ServiceCalls

  /// `timeout`: each call's deadline (`CONSOLE_TIMEOUT_SECONDS`).
  public init(
    client: GRPCClient<Transport>,
    internalCredential: String,
    timeout: Duration = .seconds(5)
  ) {
    self.directory = .init(wrapping: client)
    self.calls = ServiceCalls(
      to: "workspace console",
      internalCredential: internalCredential,
      timeout: timeout
    )
  }

  public func set(workspaceID: String, to state: WorkspaceState, reason: String) async throws {
    do {
      _ = try await calls.dependency {
        try await directory.setWorkspaceStatus(
          .with {
            $0.workspaceID = workspaceID
            $0.status = state == .active ? .active : .suspended
            $0.reason = reason
          },
          metadata: calls.credential,
          options: calls.options
        )
      }
    } catch let error as RPCError where error.code == .failedPrecondition || error.code == .notFound
    {
      // Closed (or gone) meanwhile: the console's own decision stands.
      return
    } catch let error as RPCError where error.code == .invalidArgument {
      throw DependencyRefused(service: "workspace console", reason: error.message)
    }
  }
}
