import AccountAccess
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// `guance.console.v1.WorkspaceConsoleService`: validates and translates, nothing more.
package struct WorkspaceConsoleHandlers: Guance_Console_V1_WorkspaceConsoleService
    .SimpleServiceProtocol
{
  private let console: GuanceConsole

  package init(console: GuanceConsole) {
    self.console = console
  }

  private var request: RequestContext { RequestContext.current }

  private func session() async throws -> Session {
    try await console.authenticate(bearerToken: request.bearerToken)
  }

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

  package func registerAccount(
    request: Guance_Console_V1_RegisterAccountRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_RegisterAccountResponse {
    let account = try await console.registerAccount(
      .init(
        username: request.username,
        password: request.password,
        email: request.email,
        phone: request.phone
      )
    )
    return .with { $0.account = .init(account) }
  }

  package func getAccount(
    request: Guance_Console_V1_GetAccountRequest,
    context: ServerContext
  )
    async throws -> Guance_Console_V1_GetAccountResponse
  {
    let account = try await console.account(of: try await session())
    return .with { $0.account = .init(account) }
  }

  package func sendEmailCode(
    request: Guance_Console_V1_SendEmailCodeRequest,
    context: ServerContext
  ) async throws -> Guance_Console_V1_SendEmailCodeResponse {
    let issued = try await console.sendEmailCode(
      email: request.email,
      purpose: request.purpose.domain
    )
    return .with {
      $0.challengeID = issued.challengeID.uuidString.lowercased()
      $0.expiresAt = Google_Protobuf_Timestamp(date: issued.expiresAt)
      $0.resendAfterSeconds = Int32(issued.resendAfter.components.seconds)
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

  package func login(
    request: Guance_Console_V1_LoginRequest,
    context: ServerContext
  ) async throws
    -> Guance_Console_V1_LoginResponse
  {
    let opened = try await console.login(
      login: request.login,
      password: request.password,
      peer: self.request.peer
    )
    return .with {
      $0.sessionToken = opened.token
      $0.expiresAt = Google_Protobuf_Timestamp(date: opened.session.expiresAt)
      $0.account = .init(opened.account)
      $0.workspaces = opened.workspaces.map(Guance_Console_V1_Workspace.init)
    }
  }

  package func logout(
    request: Guance_Console_V1_LogoutRequest,
    context: ServerContext
  ) async throws
    -> Guance_Console_V1_LogoutResponse
  {
    try await console.logout(bearerToken: self.request.bearerToken)
    return .init()
  }

  package func getSession(
    request: Guance_Console_V1_GetSessionRequest,
    context: ServerContext
  )
    async throws -> Guance_Console_V1_GetSessionResponse
  {
    let session = try await session()
    let account = try await console.account(of: session)
    return .with {
      $0.account = .init(account)
      $0.createdAt = Google_Protobuf_Timestamp(date: session.createdAt)
      $0.expiresAt = Google_Protobuf_Timestamp(date: session.expiresAt)
    }
  }
}
