public import Foundation
public import GRPCCore
import GuanceContracts
import SuiteRPC
import SwiftProtobuf

/// workspace-console's workspace-creation RPCs (and its directory's lookup by creation key,
/// with the internal credential) as the gateway's `ConsoleDirectory`.
public struct GRPCConsoleDirectory<Transport: ClientTransport>: ConsoleDirectory {
  private let console: Guance_Console_V1_WorkspaceConsoleService.Client<Transport>
  private let directory: Guance_Console_V1_WorkspaceDirectoryService.Client<Transport>
  private let calls: ServiceCalls

  /// `timeout`: each call's deadline (`CONSOLE_TIMEOUT_SECONDS`); registering hashes a
  /// password, so the default allows for a busy hasher pool.
  public init(
    client: GRPCClient<Transport>,
    internalCredential: String,
    timeout: Duration = .seconds(10)
  ) {
    self.console = .init(wrapping: client)
    self.directory = .init(wrapping: client)
    self.calls = ServiceCalls(
      to: "workspace console",
      internalCredential: internalCredential,
      timeout: timeout
    )
  }

  public func siteCatalogue() async throws -> SiteCatalogue {
    let reply = try await calls.dependency {
      try await console.listSites(.init(), options: calls.options)
    }
    return SiteCatalogue(sites: reply.sites.map(\.code), languages: reply.languages.map(\.code))
  }

  public func sendWorkspaceEmailCode(email: String) async throws -> WorkspaceEmailCode {
    let reply = try await calls.dependency {
      try await console.sendEmailCode(
        .with {
          $0.email = email
          $0.purpose = .createWorkspace
        },
        options: calls.options
      )
    }
    return WorkspaceEmailCode(
      challengeID: reply.challengeID,
      expiresAt: reply.expiresAt.date,
      resendAfterSeconds: Int(reply.resendAfterSeconds)
    )
  }

  public func createWorkspace(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    ownerFields: String,
    termsAccepted: Bool,
    creationKey: String
  ) async throws -> BoundWorkspace {
    // The console's request names the owner's fields at its top level, the workspace's with a
    // `workspace_` prefix.
    var paths = [
      "workspace_name": "workspace.name", "language": "workspace.language",
      "site": "workspace.site",
    ]
    for field in [
      "username", "password", "password_confirmation", "email", "phone", "challenge_id", "code",
    ] {
      paths[field] = ownerFields + field
    }
    let created: Guance_Console_V1_Workspace = try await renamingFields(paths) {
      try await create(
        workspace,
        owner: owner,
        termsAccepted: termsAccepted,
        creationKey: creationKey
      )
    }
    return try Self.bound(created)
  }

  public func workspace(createdWith creationKey: String) async throws -> BoundWorkspace? {
    let found: Guance_Console_V1_Workspace
    do {
      found = try await calls.dependency {
        try await directory.lookupWorkspace(
          .with { $0.creationKey = creationKey },
          metadata: calls.credential,
          options: calls.options
        ).workspace
      }
    } catch let error as RPCError where error.code == .notFound {
      return nil
    }
    return try Self.bound(found)
  }

  /// The console's workspace as the activation names it.
  private static func bound(_ workspace: Guance_Console_V1_Workspace) throws -> BoundWorkspace {
    guard let id = UUID(uuidString: workspace.id) else {
      throw RPCError(code: .internalError, message: "the console answered without a workspace id")
    }
    return BoundWorkspace(id: id, name: workspace.name, site: workspace.site)
  }

  private func create(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    termsAccepted: Bool,
    creationKey: String
  ) async throws -> Guance_Console_V1_Workspace {
    do {
      return try await calls.dependency {
        switch owner {
        case .existing(let email, let challengeID, let code):
          try await console.createWorkspace(
            .with {
              $0.workspaceName = workspace.name
              $0.language = workspace.language
              $0.site = workspace.site
              $0.email = email
              $0.challengeID = challengeID
              $0.code = code
              $0.termsAccepted = termsAccepted
              $0.creationKey = creationKey
            },
            options: calls.options
          ).workspace
        case .new(let account):
          try await console.registerAndCreateWorkspace(
            .with {
              $0.workspaceName = workspace.name
              $0.language = workspace.language
              $0.site = workspace.site
              $0.username = account.username
              $0.password = account.password
              $0.passwordConfirmation = account.passwordConfirmation
              $0.email = account.email
              $0.phone = account.phone
              $0.termsAccepted = termsAccepted
              $0.creationKey = creationKey
            },
            options: calls.options
          ).workspace
        }
      }
    } catch let error as RPCError where refusesCreationKey(error) {
      // The key is this subscription's: the console made its workspace already, for the
      // owner an earlier call named (a call whose answer was lost, retried with another account).
      throw ActivationError.workspaceCreatedWithAnotherAccount
    }
  }
}
