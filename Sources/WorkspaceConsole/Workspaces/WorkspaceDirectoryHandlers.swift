package import GRPCCore
package import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// `guance.console.v1.WorkspaceDirectoryService`, for the suite's own services (the runtime
/// checks their internal credential before these run).
package struct WorkspaceDirectoryHandlers: Guance_Console_V1_WorkspaceDirectoryService
    .SimpleServiceProtocol
{
  private let console: GuanceConsole

  package init(console: GuanceConsole) {
    self.console = console
  }

  package func lookupWorkspace(
    request: Guance_Console_V1_LookupWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_LookupWorkspaceResponse {
    let workspace =
      if request.creationKey.isEmpty {
        try await console.lookupWorkspace(
          id: request.workspaceID,
          ownerSessionToken: request.ownerSessionToken.isEmpty ? nil : request.ownerSessionToken
        )
      } else {
        try await console.lookupWorkspace(
          creationKey: request.creationKey,
          alsoGiven: [
            "workspace_id": !request.workspaceID.isEmpty,
            "owner_session_token": !request.ownerSessionToken.isEmpty,
          ]
        )
      }
    return .with { $0.workspace = .init(workspace) }
  }

  package func setWorkspaceStatus(
    request: Guance_Console_V1_SetWorkspaceStatusRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_SetWorkspaceStatusResponse {
    let workspace = try await console.setWorkspaceStatus(
      id: request.workspaceID,
      to: request.status.domain,
      reason: request.reason,
      requestID: RequestContext.current.requestID
    )
    return .with { $0.workspace = .init(workspace) }
  }
}
