public import MarketplaceClient
public import SuiteErrors

/// The one place where the gateway's errors get their gRPC meaning.
extension ActivationError: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .invalidMarketplaceToken:
      .invalid(
        field: "marketplace_token",
        "the marketplace token is invalid or has expired: open the subscription in the Microsoft marketplace and select \"Configure account\" again"
      ).because("INVALID_MARKETPLACE_TOKEN")
    case .sessionNotFound:
      ServiceError(
        .notFound(resourceType: "activation_session", name: "session_id"),
        "no such activation session, or it has expired: reopen \"Configure account\" in the marketplace"
      )
    case .workspaceCodeNotSent(let challengeID):
      // As the console answers a challenge it never made: nothing tells another session's apart.
      ServiceError(
        .notFound(resourceType: "email_challenge", name: challengeID),
        "no verification code was sent for this challenge"
      )
    case .notAllowed(let step, let state):
      ServiceError(
        .failedPrecondition(type: "ACTIVATION_STATE", subject: "activation_state/\(state)"),
        reason: "STEP_NOT_ALLOWED",
        "\(step) is not allowed while the activation is in state \(state)"
      )
    case .marketplaceUnavailable:
      ServiceError(
        .unavailable,
        reason: "MARKETPLACE_UNAVAILABLE",
        "the Microsoft marketplace cannot be reached; retry shortly"
      )
    case .billingCenterUnavailable:
      ServiceError(
        .unavailable,
        reason: "BILLING_CENTER_UNAVAILABLE",
        "the billing center cannot be reached; retry shortly"
      )
    case .otherWorkspaceBeingBound:
      ServiceError(
        .failedPrecondition(type: "ACTIVATION_STATE", subject: "activation_state/activating"),
        reason: "OTHER_WORKSPACE_BEING_BOUND",
        "another workspace is already being bound for this subscription"
      )
    case .workspaceBeingCreated:
      ServiceError(
        .failedPrecondition(
          type: "ACTIVATION_STATE",
          subject: "activation_state/creating_workspace"
        ),
        reason: "WORKSPACE_BEING_CREATED",
        "a workspace is already being created for this subscription (in another tab?); reload the activation"
      )
    case .workspaceCreatedWithAnotherAccount:
      ServiceError(
        .failedPrecondition(
          type: "WORKSPACE_ALREADY_CREATED",
          subject: "activation_state/needs_workspace"
        ),
        "an earlier attempt already created this subscription's workspace with another Guance account; create it again with that account to finish"
      )
    case .billingAccountRegisteredWithOtherDetails:
      ServiceError(
        .failedPrecondition(
          type: "BILLING_ACCOUNT_ALREADY_REGISTERED",
          subject: "activation_state/needs_billing_account"
        ),
        "an earlier attempt already registered a billing center account for this subscription with another email; register again with the same details to finish"
      )
    case .overloaded:
      ServiceError(
        .resourceExhausted(retryAfter: .seconds(1)),
        reason: "OVERLOADED",
        "too many accounts are being registered at once; retry shortly"
      )
    }
  }
}

extension DependencyUnavailable: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    ServiceError(
      .unavailable,
      reason: "\(ServiceError.Kind.upperSnake(service))_UNAVAILABLE",
      "the \(service) cannot be reached; retry shortly"
    )
  }
}

extension SubscriptionLifecycle.VendorChangeRefusal: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .unknownSubscription(let id):
      ServiceError(
        .notFound(resourceType: "subscription", name: id),
        "subscription \(id) not found"
      )
    case .notChangeable(let status):
      ServiceError(
        .failedPrecondition(type: "SUBSCRIPTION_STATUS", subject: "status/\(status)"),
        reason: "SUBSCRIPTION_NOT_CHANGEABLE",
        "the subscription is \(status): plan and seats change only while Subscribed, and an Unsubscribed one is final"
      )
    case .againstPlanRules(let reason):
      ServiceError(.failedPrecondition(type: "PLAN_RULES", subject: "plan"), reason)
    case .refusedByMarketplace(let message):
      ServiceError(
        .failedPrecondition(type: "MARKETPLACE", subject: "operation"),
        reason: "REFUSED_BY_MARKETPLACE",
        "the marketplace refused: \(message)"
      )
    }
  }
}

extension MarketplaceError: ServiceErrorConvertible {
  /// Operators see the marketplace's own words; only its silence is worth a retry, and a
  /// refusal of our credentials is ours to fix.
  public var serviceError: ServiceError {
    switch self {
    case .unavailable, .transport:
      ServiceError(
        .unavailable,
        reason: "MARKETPLACE_UNAVAILABLE",
        "the Microsoft marketplace cannot be reached; retry shortly"
      )
    case .unauthorized, .forbidden, .malformedResponse:
      ServiceError(
        .misconfigured,
        reason: "MARKETPLACE_CREDENTIALS_REFUSED",
        "\(description) (check MARKETPLACE_CLIENT_ID, MARKETPLACE_CLIENT_SECRET and the offer's technical configuration)"
      )
    case .notFound:
      ServiceError(.notFound(resourceType: "marketplace_resource", name: ""), description)
    case .badRequest, .conflict:
      ServiceError(
        .failedPrecondition(type: "MARKETPLACE", subject: "call"),
        reason: "REFUSED_BY_MARKETPLACE",
        description
      )
    }
  }
}
