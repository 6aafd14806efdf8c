public import AccountAccess
public import AccountKit
public import Foundation
public import GRPCCore
public import Logging
import SuiteKit
public import SuitePersistence

/// The billing center put together: its domain over its database, reaching workspaces through
/// `directory` (the console's, `ConsoleWorkspaceDirectory`; tests may give their own), and the
/// gRPC services that serve it. `billing-center`'s main serves these services, with its workers
/// and telemetry around them; the tests' fixtures serve the same ones in process.
public struct BillingAssembly: Sendable {
  public let billing: GuanceBilling
  private let internalCredential: InternalCredential

  public init(
    database: Database,
    directory: any WorkspaceDirectory,
    internalCredential: String,
    hasher: PasswordHasher,
    sessionPolicy: PasswordSessions.Policy = .init(),
    catalog: PriceCatalog = .standard,
    closingGrace: Duration,
    clock: @escaping @Sendable () -> Date = { Date() },
    logger: Logger
  ) {
    billing = GuanceBilling(
      store: PostgresBillingStore(database: database, logger: logger),
      directory: directory,
      hasher: hasher,
      sessions: PasswordSessions(
        database: database,
        hasher: hasher,
        policy: sessionPolicy,
        logger: logger
      ),
      challenges: EmailChallenges(database: database, logger: logger),
      catalog: catalog,
      closingGrace: closingGrace,
      clock: clock
    )
    self.internalCredential = InternalCredential(internalCredential)
  }

  /// What anyone may call: billing center accounts, bindings, bills.
  public var openServices: [any RegistrableRPCService] {
    [BillingCenterHandlers(billing: billing, internalCredential: internalCredential)]
  }

  /// What only the suite's services may call (the internal credential): cloud accounts, usage,
  /// day closing, metering records and subscription status.
  public var internalServices: [any RegistrableRPCService] {
    [BillingInternalHandlers(billing: billing)]
  }

  /// The services' names, as health reports them.
  /// The service web pages call (Connect, gRPC-Web); the others stay gRPC only.
  public static let browserServices: Set<String> = ["guance.billing.v1.BillingCenterService"]

  public static let serviceNames = [
    "guance.billing.v1.BillingCenterService", "guance.billing.v1.BillingInternalService",
  ]

  /// The billing center's schema (its mail outbox, sessions and codes in the same database).
  public static func migrations() throws -> [Migration] {
    try PostgresBillingStore.migrations()
  }
}
