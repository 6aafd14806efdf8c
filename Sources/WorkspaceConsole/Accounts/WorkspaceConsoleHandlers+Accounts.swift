import AccountAccess
import Foundation
package import GRPCCore
package import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// The account RPCs of `WorkspaceConsoleService`.
extension WorkspaceConsoleHandlers {
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
