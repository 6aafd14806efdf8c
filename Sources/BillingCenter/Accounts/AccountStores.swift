public import AccountAccess
public import Foundation

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

/// A binding code presented for the billing account with `username`.
public struct BindingCodeRedemption: Sendable {
  public var challengeID: UUID
  public var code: String
  public var username: String
}
