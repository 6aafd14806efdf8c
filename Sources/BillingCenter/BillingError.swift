/// What the billing center refuses beyond signing in and codes (those are `AccessError`);
/// mapped to the wire in one place (`BillingError+ServiceError.swift`).
public enum BillingError: Error, Equatable {
  case usernameTaken
  case emailTaken
  case phoneTaken
  case billingAccountNotFound(String)
  case workspaceNotFound(String)
  /// The identity is linked to another billing account.
  case cloudAccountLinkedElsewhere
  /// The workspace is bound to another billing account.
  case workspaceBoundElsewhere(String)
  /// Bound to this account already, with another settlement: change it instead.
  case alreadyBoundWithOtherSettlement(String)
  case workspaceNotBound(String)
  /// The subscription belongs to no cloud account of this billing account.
  case subscriptionNotLinked(String)
  case workspaceClosed(String)
  case dayClosed(String)
  case dayNotOver(String)
  case dayNotClosed(String)
  case unknownBillingItem(String)
  /// Cloud settlement is in USD only.
  case currencyNotAllowed(String)
  case consoleUnavailable
  /// No cloud account has brought this marketplace subscription to the billing center.
  case subscriptionUnknown(String)
  /// The marketplace subscription was cancelled: it settles nothing any more.
  case subscriptionEnded(String)
  /// The workspace is paid for through another, still active marketplace subscription: a
  /// second subscription does not take it (the first would go on billing with no workspace).
  case workspaceSettledBySubscription(String)
  case meteringRecordNotFound(String)
  /// The marketplace has the record (Accepted or Duplicate): it cannot be resubmitted or parked.
  case meteringRecordDelivered(String)
}
