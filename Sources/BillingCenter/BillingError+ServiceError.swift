public import SuiteErrors

/// The one place where billing errors get their gRPC meaning.
extension BillingError: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .usernameTaken:
      ServiceError(.alreadyExists(field: "username"), "this username is already taken")
    case .emailTaken:
      ServiceError(
        .alreadyExists(field: "email"),
        "a billing account with this email already exists"
      )
    case .phoneTaken:
      ServiceError(
        .alreadyExists(field: "phone"),
        "a billing account with this phone already exists"
      )
    case .billingAccountNotFound(let id):
      ServiceError(
        .notFound(resourceType: "billing_account", name: id),
        "billing account \(id) not found"
      )
    case .workspaceNotFound(let id):
      ServiceError(.notFound(resourceType: "workspace", name: id), "workspace \(id) not found")
    case .cloudAccountLinkedElsewhere:
      ServiceError(
        .failedPrecondition(type: "CLOUD_ACCOUNT_LINK", subject: "identity"),
        reason: "CLOUD_ACCOUNT_LINKED_ELSEWHERE",
        "this cloud account is linked to another billing account"
      )
    case .workspaceBoundElsewhere(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_BINDING", subject: "workspace/\(id)"),
        reason: "WORKSPACE_BOUND_ELSEWHERE",
        "the workspace is bound to another billing account"
      )
    case .alreadyBoundWithOtherSettlement(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_BINDING", subject: "workspace/\(id)"),
        reason: "WORKSPACE_BOUND_WITH_OTHER_SETTLEMENT",
        "the workspace is already bound with another settlement; use ChangeSettlementMethod"
      )
    case .workspaceNotBound(let id):
      ServiceError(
        .notFound(resourceType: "workspace_binding", name: id),
        "workspace \(id) is not bound to this billing account"
      )
    case .subscriptionNotLinked(let id):
      ServiceError(
        .failedPrecondition(type: "CLOUD_ACCOUNT_LINK", subject: "marketplace_subscription/\(id)"),
        reason: "SUBSCRIPTION_NOT_LINKED",
        "the marketplace subscription belongs to no cloud account of this billing account"
      )
    case .workspaceClosed(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_STATUS", subject: "workspace/\(id)"),
        reason: "WORKSPACE_CLOSED",
        "the workspace is closed"
      )
    case .dayClosed(let day):
      ServiceError(
        .failedPrecondition(type: "BILLING_DAY", subject: "day/\(day)"),
        reason: "DAY_CLOSED",
        "day \(day) is already billed; usage for it can no longer be recorded"
      )
    case .dayNotOver(let day):
      ServiceError(
        .failedPrecondition(type: "BILLING_DAY", subject: "day/\(day)"),
        reason: "DAY_NOT_OVER",
        "day \(day) has not ended yet (grace period included)"
      )
    case .dayNotClosed(let day):
      ServiceError(
        .notFound(resourceType: "daily_bill", name: day),
        "day \(day) has not been billed yet"
      )
    case .unknownBillingItem(let item):
      ServiceError(
        .failedPrecondition(type: "PRICE_CATALOG", subject: "billing_item/\(item)"),
        reason: "UNKNOWN_BILLING_ITEM",
        "billing item \(item) is not in the price catalog"
      )
    case .currencyNotAllowed(let currency):
      ServiceError(
        .failedPrecondition(type: "CURRENCY", subject: "currency/\(currency)"),
        reason: "CURRENCY_NOT_ALLOWED",
        "cloud settlement is billed in USD only"
      )
    case .consoleUnavailable:
      ServiceError(
        .unavailable,
        reason: "CONSOLE_UNAVAILABLE",
        "the workspace console cannot be reached; retry shortly"
      )
    case .subscriptionUnknown(let id):
      ServiceError(
        .notFound(resourceType: "marketplace_subscription", name: id),
        "marketplace subscription \(id) is not known to the billing center"
      )
    case .workspaceSettledBySubscription(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_SETTLEMENT", subject: "workspace/\(id)"),
        reason: "WORKSPACE_SETTLED_BY_SUBSCRIPTION",
        "the workspace is paid for through another active marketplace subscription; choose another workspace or create one"
      )
    case .subscriptionEnded(let id):
      ServiceError(
        .failedPrecondition(
          type: "CLOUD_SUBSCRIPTION_STATUS",
          subject: "marketplace_subscription/\(id)"
        ),
        reason: "SUBSCRIPTION_ENDED",
        "the marketplace subscription has been cancelled; it can no longer pay for a workspace"
      )
    case .meteringRecordNotFound(let key):
      ServiceError(
        .notFound(resourceType: "metering_record", name: key),
        "metering record \(key) not found"
      )
    case .meteringRecordDelivered(let key):
      ServiceError(
        .failedPrecondition(type: "METERING_RECORD_STATUS", subject: "metering_record/\(key)"),
        reason: "METERING_RECORD_DELIVERED",
        "the marketplace already has this record; it cannot be resubmitted or parked"
      )
    }
  }
}
