public import AccountKit
public import Foundation
public import MarketplaceClient

/// The billing center account a purchaser's cloud account is linked to.
public struct LinkedBillingAccount: Sendable, Equatable {
  public var id: UUID
  public var username: String

  public init(id: UUID, username: String) {
    self.id = id
    self.username = username
  }
}

/// A binding code on its way to a billing center account's email.
public struct BindingChallenge: Sendable, Equatable {
  public var challengeID: String
  public var maskedEmail: String
  public var resendAfterSeconds: Int

  public init(challengeID: String, maskedEmail: String, resendAfterSeconds: Int) {
    self.challengeID = challengeID
    self.maskedEmail = maskedEmail
    self.resendAfterSeconds = resendAfterSeconds
  }
}

/// A workspace a billing center account pays for, as the workspace step lists it.
public struct BindableWorkspace: Sendable, Equatable {
  public var id: String
  public var name: String
  public var site: String
  public var status: String

  public init(id: String, name: String, site: String, status: String) {
    self.id = id
    self.name = name
    self.site = site
    self.status = status
  }
}

/// The workspace an activation settles through its subscription.
public struct BoundWorkspace: Sendable, Equatable {
  public var id: UUID
  public var name: String
  public var site: String

  public init(id: UUID, name: String, site: String) {
    self.id = id
    self.name = name
    self.site = site
  }
}

/// Basic information of a new user (billing center account or Guance account).
public struct NewAccount: Sendable, Equatable {
  public var username: String
  public var password: String
  public var passwordConfirmation: String
  public var email: String
  public var phone: String

  public init(
    username: String,
    password: String,
    passwordConfirmation: String,
    email: String,
    phone: String
  ) {
    self.username = username
    self.password = password
    self.passwordConfirmation = passwordConfirmation
    self.email = email
    self.phone = phone
  }
}

/// Company information of a new billing center account (the billing center's rules).
public typealias CompanyInformation = CompanyProfile

/// A workspace to create: the site is chosen here and never changes afterwards.
public struct NewWorkspace: Sendable, Equatable {
  public var name: String
  public var language: String
  public var site: String

  public init(name: String, language: String, site: String) {
    self.name = name
    self.language = language
    self.site = site
  }
}

/// Who owns a workspace being created.
public enum WorkspaceOwner: Sendable, Equatable {
  /// An existing Guance account, proven by the code mailed to its email.
  case existing(email: String, challengeID: String, code: String)
  /// A Guance account registered together with the workspace.
  case new(NewAccount)
}

/// A code on its way to a Guance account's email, for creating a workspace.
public struct WorkspaceEmailCode: Sendable, Equatable {
  public var challengeID: String
  public var expiresAt: Date
  public var resendAfterSeconds: Int

  public init(challengeID: String, expiresAt: Date, resendAfterSeconds: Int) {
    self.challengeID = challengeID
    self.expiresAt = expiresAt
    self.resendAfterSeconds = resendAfterSeconds
  }
}

/// How a workspace comes to be settled through a subscription.
public enum WorkspaceOrigin: String, Sendable, Equatable {
  /// Created during this activation: it gets its first binding.
  case created
  /// Already bound to the billing account: only its settlement changes. Never binds a
  /// workspace the account does not already pay for.
  case existing
}

/// Where the billing center keeps cloud-account links (billing-center, over gRPC). Its
/// refusals (wrong code, locked code, throttled) reach the caller as the billing center said.
public protocol BillingDirectory: Sendable {
  /// Nil when the identity is linked to no billing account.
  func linkedAccount(tenantID: String, objectID: String) async throws -> LinkedBillingAccount?
  /// Mails a binding code to the account with `username` (same answer for unknown ones).
  func startBinding(username: String) async throws -> BindingChallenge
  /// Redeems the code and links the purchaser's identity to that account.
  func confirmBinding(
    challengeID: String,
    code: String,
    username: String,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws -> LinkedBillingAccount
  /// The workspaces bound to a billing account that a new subscription may take over: those
  /// the billing account pays for itself, not those another subscription pays for.
  func workspaces(of billingAccountID: UUID) async throws -> [BindableWorkspace]
  /// Registers a billing center account; asked again with the same creation key (and email),
  /// answers with the account the first call registered.
  func register(
    _ account: NewAccount,
    company: CompanyInformation,
    creationKey: String
  ) async throws
    -> LinkedBillingAccount
  /// Links the purchaser's identity and the subscription to a billing account (idempotent).
  func link(
    billingAccountID: UUID,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws
  /// Makes the subscription pay for the workspace ("cloud account" settlement), first linking
  /// the subscription to the purchaser's cloud account — one call, one transaction; idempotent.
  func settle(
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    billingAccountID: UUID,
    subscriptionID: String,
    purchaser: MarketplaceIdentity
  ) async throws -> BoundWorkspace
}

/// The console's account system and workspaces (workspace-console, over gRPC). Its refusals
/// reach the caller as the console said, its field violations named by the activation
/// request's own field paths.
public protocol ConsoleDirectory: Sendable {
  /// The sites and languages a new workspace may choose from.
  func siteCatalogue() async throws -> SiteCatalogue
  /// Mails a code to the Guance account with this email, for creating a workspace.
  func sendWorkspaceEmailCode(email: String) async throws -> WorkspaceEmailCode
  /// Creates the workspace (and, for a new owner, the Guance account); asked again with the
  /// same creation key, answers with the workspace the first call created. `ownerFields`:
  /// where the owner's fields sit in the activation request (`basic.`, `new_account.`,
  /// `existing_account.`).
  func createWorkspace(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    ownerFields: String,
    termsAccepted: Bool,
    creationKey: String
  ) async throws -> BoundWorkspace
  /// The workspace a creation with this key made; nil when none did.
  func workspace(createdWith creationKey: String) async throws -> BoundWorkspace?
}

/// The codes of the console's sites and languages.
public struct SiteCatalogue: Sendable, Equatable {
  public var sites: [String]
  public var languages: [String]

  public init(sites: [String], languages: [String]) {
    self.sites = sites
    self.languages = languages
  }
}

/// One activation as the activation pages see it.
public struct Activation: Sendable, Equatable {
  public enum State: Sendable, Equatable {
    case needsBillingAccount, needsWorkspace, activating, activated, closed
    /// The marketplace refused the activation for good; an operator must look at it.
    case needsAttention

    /// A workspace was chosen and its activation began: where a call that created it, sent
    /// again, finds the activation (not a closed subscription: nothing is left to do there).
    public var isPastTheWorkspaceStep: Bool {
      switch self {
      case .activating, .activated, .needsAttention: true
      case .needsBillingAccount, .needsWorkspace, .closed: false
      }
    }
  }

  public enum Branch: Sendable, Equatable {
    case notLinked, alreadyLinked
  }

  public enum Step: Sendable, Equatable {
    case registerAndActivate, startBillingAccountBinding, confirmBillingAccountBinding
    case createWorkspace, bindWorkspace, logIn
  }

  public var sessionID: String
  public var state: State
  public var branch: Branch
  public var subscription: MarketplaceSubscription
  public var billingAccount: LinkedBillingAccount?
  public var expiresAt: Date
  /// A binding code has been sent and awaits confirmation.
  public var bindingPending = false
  /// The workspace bound for this subscription, once there is one.
  public var workspace: BoundWorkspace?
  /// While activating or needing attention: what went wrong last.
  public var problem: String?
  /// Once activated: where the user signs in.
  public var consoleLoginURL: String?

  /// What the pages may offer in this state (the seed's flow, step by step).
  public var nextSteps: [Step] {
    switch state {
    case .needsBillingAccount:
      [.registerAndActivate, .startBillingAccountBinding]
        + (bindingPending ? [.confirmBillingAccountBinding] : [])
    case .needsWorkspace: [.createWorkspace, .bindWorkspace]
    case .activating: []
    case .activated: [.logIn]
    case .closed, .needsAttention: []
    }
  }

  /// The state a subscription's marketplace status, link and activation saga imply. An
  /// unsubscribed subscription is closed whatever its activation once was: nothing is left to
  /// do, and nobody is sent to sign in to a workspace it no longer pays for.
  static func state(
    of subscription: MarketplaceSubscription,
    linked: Bool,
    saga: SagaStep?
  ) -> State {
    switch (subscription.status, saga) {
    case (.unsubscribed, _): .closed
    case (.subscribed, _), (.suspended, _), (_, .activated): .activated
    case (_, .failed): .needsAttention
    case (_, .settling), (_, .activating): .activating
    case (_, nil): linked ? .needsWorkspace : .needsBillingAccount
    }
  }
}

/// Why an activation call is refused.
public enum ActivationError: Error, Equatable {
  /// The marketplace refused the landing token (unknown, malformed or expired).
  case invalidMarketplaceToken
  case sessionNotFound
  /// CreateWorkspace named a code challenge this session did not ask for.
  case workspaceCodeNotSent(challengeID: String)
  /// The step is not allowed in the activation's current state.
  case notAllowed(step: String, state: Activation.State)
  case marketplaceUnavailable
  case billingCenterUnavailable
  /// Another workspace is already being bound for this subscription.
  case otherWorkspaceBeingBound
  /// Another call (a second tab) is creating this subscription's workspace right now.
  case workspaceBeingCreated
  /// An earlier call created this subscription's workspace (its answer was lost) with
  /// another Guance account than the one this call names.
  case workspaceCreatedWithAnotherAccount
  /// An earlier call registered this subscription's billing center account (its answer was
  /// lost) with another email than this call's.
  case billingAccountRegisteredWithOtherDetails
  /// As many new accounts as this gateway registers at once are being registered now
  /// (`Activations.registrations`).
  case overloaded
}

/// A service the activation depends on did not answer (down, overloaded, timed out): worth
/// another try later, unlike its refusals, which reach the caller as they are.
public struct DependencyUnavailable: Error, Equatable, CustomStringConvertible {
  public var service: String
  public var reason: String

  public init(service: String, reason: String) {
    self.service = service
    self.reason = reason
  }

  public var description: String { "\(service) unavailable: \(reason)" }
}

/// Where an activation saga stands: each step is stored before the remote call it makes.
public enum SagaStep: String, Sendable, Equatable {
  /// Linking the subscription and settling the workspace through it (billing center).
  case settling
  /// Calling the marketplace's Activate.
  case activating
  case activated
  /// The marketplace refused for good; an operator looks at it.
  case failed
}
