public import AccountAccess
public import Foundation

/// The billing center's data, one protocol per aggregate; `PostgresBillingStore` keeps them all.
/// Each method is one transaction; decisions that need domain rules inside a transaction
/// (rating a day) come in as closures.
public typealias BillingStore = BillingAccountStore & CloudAccountStore & WorkspaceBindingStore
  & UsageStore & MeteringStore & SubscriptionStatusStore

/// Billing center accounts.
public protocol BillingAccountStore: Sendable {
  /// Throws `BillingError.usernameTaken` / `.emailTaken` / `.phoneTaken` on a duplicate.
  func insertAccount(_ account: NewBillingAccount) async throws -> BillingAccount
  func account(id: UUID) async throws -> BillingAccount?
  func account(username: String) async throws -> BillingAccount?
  /// The account registered with this creation key.
  func account(createdWith key: String) async throws -> BillingAccount?
  /// By username, email or phone.
  func loginCandidate(forLogin login: String) async throws -> LoginCandidate?
  func replacePasswordHash(accountID: UUID, with hash: String) async throws
}

/// Cloud accounts: the marketplace identities linked to billing center accounts.
public protocol CloudAccountStore: Sendable {
  func cloudAccount(identity: CloudIdentity) async throws -> (CloudAccount, BillingAccount)?
  func cloudAccounts(billingAccountID: UUID) async throws -> [CloudAccount]
  /// Links `identity` to the account (a no-op when it already is) and records the
  /// subscription; `BillingError.cloudAccountLinkedElsewhere` when another account has it.
  func linkCloudAccount(
    _ identity: CloudIdentity,
    to accountID: UUID,
    subscriptionID: String?
  )
    async throws -> CloudAccount
  /// Redeems a binding code and links the identity to the code's account, in one transaction.
  func linkCloudAccount(
    _ identity: CloudIdentity,
    subscriptionID: String?,
    redeeming: BindingCodeRedemption
  ) async throws -> (BillingAccount, CloudAccount)
}

/// Workspace bindings: which billing center account pays for a workspace, and how it settles.
public protocol WorkspaceBindingStore: Sendable {
  /// Binds the workspace (idempotent for the same account and settlement), first linking the
  /// settlement's subscription to `purchaser`'s cloud account when one is given.
  func bind(
    _ workspace: DirectoryWorkspace,
    to accountID: UUID,
    settlement: Settlement,
    linking purchaser: CloudIdentity?
  )
    async throws -> WorkspaceBinding
  func bindings(billingAccountID: UUID) async throws -> [WorkspaceBinding]
  /// Ends the current binding row and opens one with the new settlement (history is kept).
  func changeSettlement(
    workspaceID: UUID,
    of accountID: UUID,
    to settlement: Settlement,
    linking purchaser: CloudIdentity?
  ) async throws -> WorkspaceBinding
  func unbind(workspaceID: UUID, from accountID: UUID) async throws
}

/// Usage and bills: recorded events, days closed once, daily bills.
public protocol UsageStore: Sendable {
  /// Records the events; a key seen before makes its event a duplicate.
  func recordUsage(_ events: [UsageEvent]) async throws -> [UsageResult]
  /// Claims the day (once, whatever the number of replicas), sums its usage per payer,
  /// workspace and item, and stores what `rate` makes of it.
  func closeDay(
    _ day: BillingDay,
    catalogVersion: String,
    rate: @Sendable ([DayUsage]) throws -> (lines: [BillLine], metering: [MeteringRecord])
  ) async throws -> DayClosing
  /// Days with recorded usage that ended before `cutoff` and are not closed, oldest first
  /// (looking back as far as usage may be recorded).
  func daysAwaitingClosure(endedBefore cutoff: Date) async throws -> [BillingDay]
  /// The account's closed days within `range` (inclusive), with their lines.
  func bills(billingAccountID: UUID, days: ClosedRange<BillingDay>) async throws -> [DailyBill]
}

/// Metering records: what the marketplace is to bill, and what it answered.
public protocol MeteringStore: Sendable {
  func pendingMeteringRecords(limit: Int) async throws -> [MeteringRecord]
  /// Returns the keys that matched no record.
  func acknowledge(_ acknowledgements: [MeteringAcknowledgement]) async throws -> [String]
  /// Records in key order, after `afterKey` when given (the last key of the previous page).
  func meteringRecords(
    status: MeteringRecord.Status?,
    day: BillingDay?,
    subscriptionID: String?,
    afterKey: String?,
    limit: Int
  ) async throws -> [MeteringRecord]
  func setDisposition(
    _ disposition: MeteringRecord.Disposition,
    ofRecord key: String,
    reason: String
  )
    async throws -> MeteringRecord
}

/// The marketplace subscriptions' status over time.
public protocol SubscriptionStatusStore: Sendable {
  /// Records the subscription's new status from `at` on (once: the same status again changes
  /// nothing, and nothing follows unsubscribed).
  func setSubscriptionStatus(
    subscriptionID: String,
    to status: CloudSubscriptionStatus,
    at: Date
  )
    async throws -> SubscriptionStatusChange
}

/// A binding code presented for the billing account with `username`.
public struct BindingCodeRedemption: Sendable {
  public var challengeID: UUID
  public var code: String
  public var username: String
}
