import AccountAccess
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// The workspace RPCs of `WorkspaceConsoleService`.
extension WorkspaceConsoleHandlers {
  package func listSites(
    request: Guance_Console_V1_ListSitesRequest,
    context: ServerContext
  )
    async throws -> Guance_Console_V1_ListSitesResponse
  {
    .with {
      $0.sites = console.catalog.sites.map { site in
        .with {
          $0.code = site.code
          $0.displayName = site.displayName
          $0.region = site.region
        }
      }
      $0.languages = console.catalog.languages.map { language in
        .with {
          $0.code = language.code
          $0.displayName = language.displayName
        }
      }
    }
  }

  package func createWorkspace(
    request: Guance_Console_V1_CreateWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_CreateWorkspaceResponse {
    let (account, workspace) = try await console.createWorkspace(
      .init(
        name: request.workspaceName,
        language: request.language,
        site: request.site,
        termsAccepted: request.termsAccepted,
        creationKey: request.creationKey
      ),
      email: request.email,
      challengeID: request.challengeID,
      code: request.code
    )
    return .with {
      $0.account = .init(account)
      $0.workspace = .init(workspace)
    }
  }

  package func registerAndCreateWorkspace(
    request: Guance_Console_V1_RegisterAndCreateWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_RegisterAndCreateWorkspaceResponse {
    let (account, workspace) = try await console.registerAndCreateWorkspace(
      .init(
        name: request.workspaceName,
        language: request.language,
        site: request.site,
        termsAccepted: request.termsAccepted,
        creationKey: request.creationKey
      ),
      registration: .init(
        username: request.username,
        password: request.password,
        email: request.email,
        phone: request.phone
      ),
      passwordConfirmation: request.passwordConfirmation
    )
    return .with {
      $0.account = .init(account)
      $0.workspace = .init(workspace)
    }
  }

  package func getWorkspace(
    request: Guance_Console_V1_GetWorkspaceRequest,
    context: ServerContext
  )
    async throws -> Guance_Console_V1_GetWorkspaceResponse
  {
    let workspace = try await console.workspace(id: request.workspaceID, of: try await session())
    return .with { $0.workspace = .init(workspace) }
  }

  package func listWorkspaces(
    request: Guance_Console_V1_ListWorkspacesRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_ListWorkspacesResponse {
    let workspaces = try await console.workspaces(of: try await session())
    return .with { $0.workspaces = workspaces.map(Guance_Console_V1_Workspace.init) }
  }
}
