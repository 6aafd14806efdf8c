import AccountAccess
import AccountKit
import BillingCenter
import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import GuanceContracts
import Logging
import Mailer
import PostgresNIO
import SuiteKit
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import WorkspaceConsole

/// A billing center and a console, each on its own fresh database, served in process; the
/// billing center asks the console about workspaces over gRPC, as in production.
struct BillingFixture: Sendable {
  typealias Center = Guance_Billing_V1_BillingCenterService.Client<InProcessTransport.Client>
  typealias Internal = Guance_Billing_V1_BillingInternalService.Client<InProcessTransport.Client>
  typealias Console = Guance_Console_V1_WorkspaceConsoleService.Client<InProcessTransport.Client>
  typealias Directory = Guance_Console_V1_WorkspaceDirectoryService.Client<
    InProcessTransport.Client
  >

  static let hasher = PasswordHasher(workers: 2, maxQueued: 1000)
  static let credential = "billing-test-credential"
  static let internalCall: Metadata = ["authorization": "Bearer \(credential)"]
  static let password = "correct horse battery"

  let center: Center
  /// The billing center's server, for calls with raw bodies (`RequestFuzzer`).
  let centerRPC: GRPCClient<InProcessTransport.Client>
  let internalAPI: Internal
  let console: Console
  let directory: Directory
  let database: Database
  let mailbox: DevelopmentMailboxReader
  let mailWorker: MailOutboxWorker

  static func with(_ body: @Sendable (BillingFixture) async throws -> Void) async throws {
    let logger = Logger(label: "billing-test")
    try await TestDatabase.withMigratedDatabase(ConsoleAssembly.migrations()) { _, consoleDB in
      try await TestDatabase.withMigratedDatabase(BillingAssembly.migrations()) {
        _,
        billingDB in
        let console = ConsoleAssembly(database: consoleDB, hasher: hasher, logger: logger)
        let mailDirectory = FileManager.default.temporaryDirectory
          .appendingPathComponent("billing-mail-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: mailDirectory) }
        let worker = MailOutboxWorker(
          database: billingDB,
          sender: try DevelopmentMailbox(
            directory: mailDirectory,
            sender: "t@guance.local",
            logger: logger
          ),
          logger: logger
        )
        try await withInProcessServer(
          open: console.openServices,
          internal: console.internalServices,
          internalCredential: credential
        ) { consoleClient in
          let billing = BillingAssembly(
            database: billingDB,
            directory: ConsoleWorkspaceDirectory(
              client: consoleClient,
              internalCredential: credential
            ),
            internalCredential: credential,
            hasher: hasher,
            closingGrace: .seconds(0),
            logger: logger
          )
          try await withInProcessServer(
            open: billing.openServices,
            internal: billing.internalServices,
            internalCredential: credential
          ) { billingClient in
            try await body(
              BillingFixture(
                center: Center(wrapping: billingClient),
                centerRPC: billingClient,
                internalAPI: Internal(wrapping: billingClient),
                console: Console(wrapping: consoleClient),
                directory: Directory(wrapping: consoleClient),
                database: billingDB,
                mailbox: DevelopmentMailboxReader(directory: mailDirectory),
                mailWorker: worker
              )
            )
          }
        }
      }
    }
  }

  // MARK: Steps

  @discardableResult
  func register(
    _ username: String = "acme",
    email: String = "billing@acme.example",
    phone: String = "",
    creationKey: String = ""
  ) async throws -> Guance_Billing_V1_BillingAccount {
    try await center.registerBillingAccount(
      .with {
        $0.username = username
        $0.password = Self.password
        $0.email = email
        $0.phone = phone
        $0.creationKey = creationKey
        $0.company = Self.company
      }
    ).billingAccount
  }

  static let company = Guance_Billing_V1_CompanyInfo.with {
    $0.companyName = "Acme Observability Ltd"
    $0.industry = "Software"
    $0.region = "Singapore"
    $0.contactName = "Ada"
  }

  /// A console workspace (and its Guance account).
  func workspace(
    _ name: String = "Ops",
    owner: String = "alice",
    site: String = "us1"
  ) async throws
    -> Guance_Console_V1_Workspace
  {
    try await console.registerAndCreateWorkspace(
      .with {
        $0.workspaceName = name
        $0.language = "en"
        $0.site = site
        $0.username = owner
        $0.password = Self.password
        $0.passwordConfirmation = Self.password
        $0.email = "\(owner)@example.com"
        $0.termsAccepted = true
      }
    ).workspace
  }

  static func identity(_ object: String = "object-1") -> Guance_Billing_V1_CloudIdentity {
    .with {
      $0.provider = .azure
      $0.tenantID = "tenant-1"
      $0.objectID = object
    }
  }

  @discardableResult
  func link(
    _ account: Guance_Billing_V1_BillingAccount,
    object: String = "object-1",
    subscription: String = "sub-1"
  )
    async throws -> Guance_Billing_V1_CloudAccount
  {
    try await internalAPI.linkCloudAccount(
      .with {
        $0.billingAccountID = account.id
        $0.identity = Self.identity(object)
        $0.marketplaceSubscriptionID = subscription
      },
      metadata: Self.internalCall
    ).cloudAccount
  }

  @discardableResult
  func bind(
    _ workspace: String,
    to account: String,
    settlement: Guance_Billing_V1_Settlement = .with { $0.method = .billingAccount }
  ) async throws -> Guance_Billing_V1_WorkspaceBinding {
    try await center.bindWorkspace(
      .with {
        $0.billingAccountID = account
        $0.workspaceID = workspace
        $0.settlement = settlement
      },
      metadata: Self.internalCall
    ).binding
  }

  static func cloud(_ subscription: String = "sub-1") -> Guance_Billing_V1_Settlement {
    .with {
      $0.method = .cloudAccount
      $0.marketplaceSubscriptionID = subscription
    }
  }

  func count(_ table: String, where condition: String = "true") async throws -> Int {
    let rows = try await database.query(
      PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table) WHERE \(condition)")
    )
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }

  static func event(
    _ key: String,
    workspace: String,
    item: String = "log_events",
    quantity: String,
    at time: Date
  ) -> Guance_Billing_V1_UsageEvent {
    .with {
      $0.idempotencyKey = key
      $0.workspaceID = workspace
      $0.billingItem = item
      $0.quantity = quantity
      $0.usageTime = Google_Protobuf_Timestamp(date: time)
    }
  }
}
