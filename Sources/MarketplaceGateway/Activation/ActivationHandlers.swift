import AccountKit
import Foundation
package import GRPCCore
package import GuanceContracts
import MarketplaceClient
import SuiteKit
import SwiftProtobuf

/// `guance.gateway.v1.ActivationService`: validates and translates, nothing more.
package struct ActivationHandlers: Guance_Gateway_V1_ActivationService.SimpleServiceProtocol {
  private let activations: Activations

  package init(activations: Activations) {
    self.activations = activations
  }

  package func resolveActivation(
    request: Guance_Gateway_V1_ResolveActivationRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_ResolveActivationResponse {
    let activation = try await activations.resolve(
      marketplaceToken: request.marketplaceToken,
      correlationID: RequestContext.current.requestID
    )
    return .with { $0.activation = .init(activation) }
  }

  package func getActivation(
    request: Guance_Gateway_V1_GetActivationRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_GetActivationResponse
  {
    let activation = try await activations.activation(sessionID: request.sessionID)
    return .with { $0.activation = .init(activation) }
  }

  package func startBillingAccountBinding(
    request: Guance_Gateway_V1_StartBillingAccountBindingRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_StartBillingAccountBindingResponse {
    let (activation, challenge) = try await activations.startBillingAccountBinding(
      sessionID: request.sessionID,
      username: request.billingUsername,
      correlationID: RequestContext.current.requestID
    )
    return .with {
      $0.maskedEmail = challenge.maskedEmail
      $0.resendAfterSeconds = Int32(clamping: challenge.resendAfterSeconds)
      $0.activation = .init(activation)
    }
  }

  package func confirmBillingAccountBinding(
    request: Guance_Gateway_V1_ConfirmBillingAccountBindingRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_ConfirmBillingAccountBindingResponse {
    let activation = try await activations.confirmBillingAccountBinding(
      sessionID: request.sessionID,
      code: request.code,
      correlationID: RequestContext.current.requestID
    )
    return .with { $0.activation = .init(activation) }
  }

  package func listBindableWorkspaces(
    request: Guance_Gateway_V1_ListBindableWorkspacesRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_ListBindableWorkspacesResponse {
    let workspaces = try await activations.bindableWorkspaces(sessionID: request.sessionID)
    return .with {
      $0.workspaces = workspaces.map { workspace in
        .with {
          $0.workspaceID = workspace.id
          $0.name = workspace.name
          $0.site = workspace.site
          $0.status = workspace.status
        }
      }
    }
  }

  package func registerAndActivate(
    request: Guance_Gateway_V1_RegisterAndActivateRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_RegisterAndActivateResponse {
    let company = request.company
    let activation = try await activations.registerAndActivate(
      sessionID: request.sessionID,
      account: NewAccount(request.basic),
      company: CompanyInformation(
        companyName: company.companyName,
        industry: company.industry,
        region: company.region,
        contactName: company.contactName,
        description: company.description_p
      ),
      workspace: NewWorkspace(request.workspace),
      termsAccepted: request.termsAccepted,
      correlationID: RequestContext.current.requestID
    )
    return .with { $0.activation = .init(activation) }
  }

  package func sendWorkspaceEmailCode(
    request: Guance_Gateway_V1_SendWorkspaceEmailCodeRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_SendWorkspaceEmailCodeResponse {
    let code = try await activations.sendWorkspaceEmailCode(
      sessionID: request.sessionID,
      email: request.email
    )
    return .with {
      $0.challengeID = code.challengeID
      $0.expiresAt = Google_Protobuf_Timestamp(date: code.expiresAt)
      $0.resendAfterSeconds = Int32(clamping: code.resendAfterSeconds)
    }
  }

  package func createWorkspace(
    request: Guance_Gateway_V1_CreateWorkspaceRequest,
    context: ServerContext
  ) async throws -> Guance_Gateway_V1_CreateWorkspaceResponse {
    let owner: WorkspaceOwner? =
      switch request.owner {
      case .existingAccount(let existing):
        .existing(email: existing.email, challengeID: existing.challengeID, code: existing.code)
      case .newAccount(let basic): .new(NewAccount(basic))
      case nil: nil
      }
    let activation = try await activations.createWorkspace(
      sessionID: request.sessionID,
      workspace: NewWorkspace(request.workspace),
      owner: owner,
      termsAccepted: request.termsAccepted,
      correlationID: RequestContext.current.requestID
    )
    return .with { $0.activation = .init(activation) }
  }

  package func bindWorkspace(
    request: Guance_Gateway_V1_BindWorkspaceRequest,
    context: ServerContext
  )
    async throws -> Guance_Gateway_V1_BindWorkspaceResponse
  {
    let activation = try await activations.bindWorkspace(
      sessionID: request.sessionID,
      workspaceID: request.workspaceID,
      correlationID: RequestContext.current.requestID
    )
    return .with { $0.activation = .init(activation) }
  }
}

extension NewAccount {
  init(_ basic: Guance_Gateway_V1_BasicInformation) {
    self.init(
      username: basic.username,
      password: basic.password,
      passwordConfirmation: basic.passwordConfirmation,
      email: basic.email,
      phone: basic.phone
    )
  }
}

extension NewWorkspace {
  init(_ workspace: Guance_Gateway_V1_NewWorkspace) {
    self.init(name: workspace.name, language: workspace.language, site: workspace.site)
  }
}

extension Guance_Gateway_V1_Activation {
  init(_ activation: Activation) {
    self.init()
    sessionID = activation.sessionID
    state =
      switch activation.state {
      case .needsBillingAccount: .needsBillingAccount
      case .needsWorkspace: .needsWorkspace
      case .activating: .activating
      case .activated: .activated
      case .closed: .closed
      case .needsAttention: .needsAttention
      }
    branch = activation.branch == .notLinked ? .notLinked : .alreadyLinked
    subscription = .with {
      $0.subscriptionID = activation.subscription.id
      $0.name = activation.subscription.name
      $0.offerID = activation.subscription.offerID
      $0.planID = activation.subscription.planID
      $0.quantity = Int32(clamping: activation.subscription.quantity ?? 0)
      $0.marketplaceStatus = activation.subscription.status.name
      $0.purchaserEmail = activation.subscription.purchaser.email
    }
    if let account = activation.billingAccount {
      billingAccountID = account.id.uuidString.lowercased()
      billingAccountUsername = account.username
    }
    nextSteps = activation.nextSteps.map { step in
      switch step {
      case .registerAndActivate: .registerAndActivate
      case .startBillingAccountBinding: .startBillingAccountBinding
      case .confirmBillingAccountBinding: .confirmBillingAccountBinding
      case .createWorkspace: .createWorkspace
      case .bindWorkspace: .bindWorkspace
      case .logIn: .logIn
      }
    }
    expiresAt = Google_Protobuf_Timestamp(date: activation.expiresAt)
    if let bound = activation.workspace {
      workspace = .with {
        $0.workspaceID = bound.id.uuidString.lowercased()
        $0.name = bound.name
        $0.site = bound.site
      }
    }
    consoleLoginURL = activation.consoleLoginURL ?? ""
    activationProblem = activation.problem ?? ""
  }
}
