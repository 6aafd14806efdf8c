public import Foundation
public import MarketplaceClient

/// What the activation flow keeps (`GatewayStore` on PostgreSQL): subscriptions as the
/// marketplace resolved them, activation sessions, purchasers' links, the codes sent, the audit
/// trail, and the sagas and workspace creations under way.
public protocol ActivationStore: Sendable {
  func session(digest: [UInt8]) async throws -> StoredSession?

  /// Records what the marketplace said about a subscription and opens a session for it on
  /// the branch `link` implies, remembering the link, with audit rows — one statement, so all
  /// of it or none.
  func recordResolution(
    _ subscription: MarketplaceSubscription,
    link: LinkedBillingAccount?,
    sessionDigest: [UInt8],
    sessionLifetime: Duration,
    correlationID: String
  ) async throws -> RecordedResolution

  /// The billing account the gateway has learnt a purchaser is linked to, if any.
  func knownLink(of purchaser: MarketplaceIdentity) async throws -> LinkedBillingAccount?

  /// A link the activation itself made (binding or registering), with its audit row — one
  /// statement.
  func recordLink(
    of purchaser: MarketplaceIdentity,
    to account: LinkedBillingAccount,
    subscriptionID: String,
    event: String,
    correlationID: String
  ) async throws

  /// Keeps the billing account a purchaser is linked to (links never move).
  func rememberLink(
    tenantID: String,
    objectID: String,
    to account: LinkedBillingAccount
  ) async throws

  /// Remembers the binding code just sent for this session.
  func recordBindingChallenge(
    digest: [UInt8],
    subscriptionID: String,
    username: String,
    challengeID: String,
    correlationID: String
  ) async throws

  /// Remembers the workspace code just sent for this session: only this session may use it.
  func recordWorkspaceChallenge(
    digest: [UInt8],
    subscriptionID: String,
    challengeID: String,
    correlationID: String
  ) async throws

  /// Appends one event to a subscription's audit trail.
  func audit(
    subscriptionID: String,
    _ event: String,
    detail: String,
    correlationID: String
  )
    async throws

  /// Starts the subscription's saga for this workspace, or finds the one already started.
  /// `claimed` says whether the caller (the process whose presence is `runner`) now holds the
  /// saga and must run it; a saga someone else is running, or one for another workspace, is
  /// returned unclaimed.
  func beginSaga(
    subscriptionID: String,
    billingAccountID: UUID,
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    runner: Int32,
    lease: Duration,
    correlationID: String
  ) async throws -> (saga: SagaRecord, claimed: Bool)

  /// Claims up to `limit` unfinished sagas that nobody runs and that are due, with their
  /// subscriptions, for the reconciler running in the process whose presence is `runner`.
  func claimDueSagas(
    limit: Int,
    runner: Int32,
    lease: Duration
  ) async throws
    -> [(SagaRecord, MarketplaceSubscription)]

  /// The billing center refused the workspace before anything changed there: the saga is
  /// dropped and the activation is back at the workspace step.
  func abandonSaga(
    _ subscriptionID: String,
    problem: String,
    correlationID: String
  ) async throws

  /// The marketplace refused for good: kept for an operator, never retried on its own.
  func failSaga(
    _ subscriptionID: String,
    runner: Int32,
    problem: String,
    correlationID: String
  ) async throws

  /// The marketplace confirmed the activation: the subscription is Subscribed.
  func finishSaga(_ subscriptionID: String, correlationID: String) async throws

  /// The workspace now pays through the subscription, and the first Activate call is about to
  /// start: both written before that call, in one statement. Returns the Activate calls
  /// started so far; nil when `runner` no longer runs the saga (another process took it over
  /// after this one lost its presence), which must then stop.
  func markSettledAndRequestActivate(
    _ subscriptionID: String,
    workspace: BoundWorkspace,
    runner: Int32,
    lease: Duration,
    correlationID: String
  ) async throws -> Int?

  /// Written before each further Activate call; returns how many calls have been started, or
  /// nil when `runner` no longer runs the saga.
  func recordActivateAttempt(
    _ subscriptionID: String,
    runner: Int32,
    lease: Duration,
    correlationID: String
  )
    async throws -> Int?

  /// A transient failure: the saga is let go and the reconciler tries again after `delay`.
  /// Only by its runner: a saga another process has taken over is left to it.
  func scheduleRetry(
    _ subscriptionID: String,
    runner: Int32,
    after delay: Duration,
    problem: String,
    correlationID: String
  ) async throws

  /// Claims the right to create the subscription's workspace for the process whose presence is
  /// `runner`; false while another call is creating it. A claim whose process died (or lost
  /// its connection), or whose lease ran out, is taken over at once.
  func claimWorkspaceCreation(
    _ subscriptionID: String,
    runner: Int32,
    lease: Duration
  ) async throws -> Bool

  /// Lets go of a creation claim, unless another process has taken it over since.
  func releaseWorkspaceCreation(_ subscriptionID: String, runner: Int32) async throws

  /// Lets go of a creation without dropping it (the resumer could not finish it now): free for
  /// the next pass, once `settle` has passed again.
  func letGoOfWorkspaceCreation(_ subscriptionID: String, runner: Int32) async throws

  /// Takes over, for the process whose presence is `runner`, up to `limit` workspace creations
  /// nobody is doing and nobody has touched for `settle` (so that a console call the dead
  /// process made has ended). Claims of creations whose saga has begun are done: dropped.
  func claimAbandonedCreations(
    runner: Int32,
    lease: Duration,
    settle: Duration,
    limit: Int
  ) async throws
    -> [AbandonedWorkspaceCreation]
}

/// What recording a resolution found: the new session's expiry and the subscription's saga,
/// if one has begun.
public struct RecordedResolution: Sendable {
  public var expiresAt: Date
  public var saga: SagaRecord?
}

/// A live session: its subscription as last recorded, expiry, pending binding code, the
/// subscription's activation saga, if one has begun, and the purchaser's known link.
public struct StoredSession: Sendable {
  public var subscription: MarketplaceSubscription
  public var expiresAt: Date
  public var bindingUsername: String?
  public var bindingChallengeID: String?
  /// The workspace code last sent for this session (SendWorkspaceEmailCode).
  public var workspaceChallengeID: String?
  public var saga: SagaRecord?
  public var link: LinkedBillingAccount?
  /// The purchaser was linked when the session opened.
  public var startedLinked: Bool
}

/// A workspace creation whose call died before its saga began, taken over by the resumer.
public struct AbandonedWorkspaceCreation: Sendable {
  public var subscription: MarketplaceSubscription
  public var billingAccountID: UUID
}

extension ActivationStore {
  /// Appends one event, with no detail, to a subscription's audit trail.
  func audit(subscriptionID: String, _ event: String, correlationID: String) async throws {
    try await audit(subscriptionID: subscriptionID, event, detail: "", correlationID: correlationID)
  }
}
