package import Foundation
package import GRPCCore
package import GRPCNIOTransportHTTP2
package import GuanceContracts
package import NIOHTTP1
package import PostgresNIO
package import SuiteKit
package import SuitePersistence
package import SwiftProtobuf
import Synchronization
package import Testing

package struct HarnessError: Error, CustomStringConvertible {
  package var description: String
  package init(_ description: String) { self.description = description }
}

/// The whole suite as processes — emulator, workspace-console, billing-center and
/// marketplace-gateway, each on its own fresh database — driven the way a frontend drives it.
package final class SuiteHarness: @unchecked Sendable {
  package typealias ActivationClient = Guance_Gateway_V1_ActivationService.Client<
    HTTP2ClientTransport.Posix
  >
  package typealias ConsoleClient = Guance_Console_V1_WorkspaceConsoleService.Client<
    HTTP2ClientTransport.Posix
  >
  package typealias BillingClient = Guance_Billing_V1_BillingCenterService.Client<
    HTTP2ClientTransport.Posix
  >

  package static let credential = "suite-test-credential"

  package let emulator: EmulatorProcess
  package let console: ServiceProcess
  package let billing: ServiceProcess
  package private(set) var gateway: ServiceProcess
  package let gatewayDatabase: DatabaseURL
  package let billingDatabase: DatabaseURL
  package let consoleMail: DevelopmentMailboxReader
  package let billingMail: DevelopmentMailboxReader
  /// The usage calendar's clock of the emulator, the billing center and the gateway.
  package let usageClock: UsageClock
  private let work: URL
  private let gatewayEnvironment: [String: String]

  private init(
    emulator: EmulatorProcess,
    console: ServiceProcess,
    billing: ServiceProcess,
    gateway: ServiceProcess,
    gatewayDatabase: DatabaseURL,
    billingDatabase: DatabaseURL,
    usageClock: UsageClock,
    work: URL,
    gatewayEnvironment: [String: String]
  ) {
    self.usageClock = usageClock
    self.billingDatabase = billingDatabase
    self.emulator = emulator
    self.console = console
    self.billing = billing
    self.gateway = gateway
    self.gatewayDatabase = gatewayDatabase
    self.work = work
    self.gatewayEnvironment = gatewayEnvironment
    consoleMail = DevelopmentMailboxReader(directory: work.appendingPathComponent("console-mail"))
    billingMail = DevelopmentMailboxReader(directory: work.appendingPathComponent("billing-mail"))
  }

  /// Runs `body` against a fresh suite; `gateway` adds to the gateway's environment,
  /// `everyService` to that of the gateway, billing-center and workspace-console. The emulator,
  /// the billing center and the gateway date usage by `usageClock`.
  package static func with(
    gateway extra: [String: String] = [:],
    everyService shared: [String: String] = [:],
    usageClock: UsageClock = .wall,
    _ body: (SuiteHarness) async throws -> Void
  ) async throws {
    try await EmulatorProcess.with(environment: usageClock.environment) { emulator in
      try await TestDatabase.withFreshDatabase { consoleDB in
        try await TestDatabase.withFreshDatabase { billingDB in
          try await TestDatabase.withFreshDatabase { gatewayDB in
            let work = FileManager.default.temporaryDirectory.appendingPathComponent(
              "suite-\(UUID().uuidString)"
            )
            defer { try? FileManager.default.removeItem(at: work) }
            let console = try await ServiceProcess(
              "workspace-console",
              environment: [
                "DATABASE_URL": consoleDB.text, "INTERNAL_CREDENTIAL": credential,
                "MAILBOX_DIR": work.appendingPathComponent("console-mail").path,
              ].merging(shared) { $1 },
              workDirectory: work.appendingPathComponent("console")
            )
            let billing = try await ServiceProcess(
              "billing-center",
              environment: [
                "DATABASE_URL": billingDB.text, "INTERNAL_CREDENTIAL": credential,
                "CONSOLE_ADDRESS": console.address,
                // Days are closed by the tests (CloseDay), not by the background closer; with no
                // grace, yesterday can be closed at any hour (in the first hour of a UTC day the
                // default grace refused it, failing every test that closes yesterday).
                "BILL_CLOSER_INTERVAL_SECONDS": "3600", "BILL_CLOSING_GRACE_SECONDS": "0",
                "MAILBOX_DIR": work.appendingPathComponent("billing-mail").path,
              ].merging(usageClock.environment) { $1 }.merging(shared) { $1 },
              workDirectory: work.appendingPathComponent("billing")
            )
            let environment = [
              "DATABASE_URL": gatewayDB.text, "INTERNAL_CREDENTIAL": credential,
              "BILLING_ADDRESS": billing.address,
              "CONSOLE_ADDRESS": console.address, "MARKETPLACE_API_URL": "\(emulator.base)/api",
              "MARKETPLACE_LOGIN_URL": emulator.base, "MARKETPLACE_TENANT_ID": "tenant-1",
              "MARKETPLACE_CLIENT_ID": "app-1", "MARKETPLACE_CLIENT_SECRET": "s3cret",
              "LANDING_PORT": "0",
              "CONSOLE_LOGIN_URL": "http://console.test/login", "ACTIVATION_RECONCILE_SECONDS": "1",
              "ACTIVATION_RETRY_SECONDS": "1", "ACTIVATION_MAX_RETRY_SECONDS": "2",
              // Deadlines a loaded machine keeps (no test stops these services to see a
              // deadline pass), and the shortest lease they allow: 3 × 5 × 4 + 60 + 5.
              "BILLING_TIMEOUT_SECONDS": "60", "CONSOLE_TIMEOUT_SECONDS": "60",
              "MARKETPLACE_TIMEOUT_SECONDS": "5", "ACTIVATION_LEASE_SECONDS": "125",
            ].merging(usageClock.environment) { $1 }.merging(shared) { $1 }.merging(extra) { $1 }
            var harness: SuiteHarness?
            do {
              let gateway = try await ServiceProcess(
                "marketplace-gateway",
                environment: environment,
                workDirectory: work.appendingPathComponent("gateway")
              )
              let suite = SuiteHarness(
                emulator: emulator,
                console: console,
                billing: billing,
                gateway: gateway,
                gatewayDatabase: gatewayDB,
                billingDatabase: billingDB,
                usageClock: usageClock,
                work: work,
                gatewayEnvironment: environment
              )
              harness = suite
              try await body(suite)
            } catch {
              Issue.record(
                "gateway log:\n\(harness?.gateway.log ?? "")\nbilling log:\n\(billing.log)\nconsole log:\n\(console.log)"
              )
              await harness?.gateway.stop()
              await billing.stop()
              await console.stop()
              throw error
            }
            if let harness { #expect(await harness.gateway.stop() == 0) }
            await billing.stop()
            await console.stop()
          }
        }
      }
    }
  }

  /// SIGKILLs the gateway (a crash) and starts a new one on the same database; `whileDown`
  /// runs in between (to look at what the crash left before anyone picks it up).
  package func crashAndRestartGateway(whileDown: () async throws -> Void = {}) async throws {
    await gateway.kill()
    try await whileDown()
    try? FileManager.default.removeItem(at: landingFile)
    gateway = try await ServiceProcess(
      "marketplace-gateway",
      environment: gatewayEnvironment,
      workDirectory: work.appendingPathComponent("gateway")
    )
  }

  private var landingFile: URL {
    work.appendingPathComponent("gateway/marketplace-gateway.ready.landing")
  }

  /// The gateway's HTTP address (landing page and webhook), once it serves.
  package func landingAddress() async throws -> String {
    guard let address = try await readyAddress(at: landingFile.path) else {
      throw HarnessError("the gateway never wrote \(landingFile.path)")
    }
    return address
  }

  /// Points the emulated marketplace's webhook at the gateway.
  package func connectWebhook() async throws {
    let body = #"{"url": "http://\#(try await landingAddress())/webhook"}"#
    #expect(try await emulator.request(.POST, "/admin/webhook", body: body).status == 204)
  }

  /// A purchase of `plan` taken through registration and activation: its subscription id and
  /// the workspace settled through it.
  package func activatedSubscription(
    plan: String = "commercial",
    quantity: Int? = nil,
    username: String
  ) async throws
    -> (subscription: String, workspace: String)
  {
    let quantityJSON = quantity.map { #", "quantity": \#($0)"# } ?? ""
    let purchase = try await emulator.purchase(
      #"{"planId": "\#(plan)"\#(quantityJSON), "purchaser": {"emailId": "\#(username)@buyer.example", "objectId": "\#(UUID().uuidString)", "tenantId": "\#(UUID().uuidString)", "puid": ""}}"#
    )
    let activation = try await register(token: purchase.token, username: username)
    #expect(activation.state == .activated)
    return (purchase.id, activation.workspace.workspaceID)
  }

  /// A purchase's marketplace token taken through the register branch (`registration`): the
  /// activation as RegisterAndActivate answers it.
  package func register(
    token: String,
    username: String
  ) async throws -> Guance_Gateway_V1_Activation {
    try await activation { client in
      let session = try await client.resolveActivation(.with { $0.marketplaceToken = token })
        .activation
      return try await client.registerAndActivate(
        Self.registration(session: session.sessionID, username: username)
      )
      .activation
    }
  }

  // MARK: Requests as a buyer fills them in

  package static let password = "correct horse battery"

  package static func basic(_ username: String, email: String) -> Guance_Gateway_V1_BasicInformation
  {
    .with {
      $0.username = username
      $0.password = password
      $0.passwordConfirmation = password
      $0.email = email
    }
  }

  package static let company = Guance_Gateway_V1_CompanyInformation.with {
    $0.companyName = "Northwind Traders"
    $0.industry = "Retail"
    $0.region = "EU"
    $0.contactName = "Nancy"
  }

  package static func newWorkspace(
    _ name: String,
    site: String = "us1"
  ) -> Guance_Gateway_V1_NewWorkspace {
    .with {
      $0.name = name
      $0.language = "en"
      $0.site = site
    }
  }

  /// The register branch's request for a new Guance account `username` (password "correct
  /// horse battery", mail to username@buyer.example).
  package static func registration(
    session: String,
    username: String
  ) -> Guance_Gateway_V1_RegisterAndActivateRequest {
    .with {
      $0.sessionID = session
      $0.basic = basic(username, email: "\(username)@buyer.example")
      $0.company = company
      $0.workspace = newWorkspace("\(username) ops")
      $0.termsAccepted = true
    }
  }

  /// Starts `action` at the marketplace as a customer would; returns the operation's id.
  @discardableResult
  package func trigger(
    _ subscription: String,
    _ action: String,
    plan: String? = nil,
    quantity: Int? = nil
  ) async throws -> String {
    var fields = [#""action": "\#(action)""#]
    if let plan { fields.append(#""planId": "\#(plan)""#) }
    if let quantity { fields.append(#""quantity": \#(quantity)"#) }
    let reply = try await emulator.request(
      .POST,
      "/admin/subscriptions/\(subscription)/events",
      body: "{\(fields.joined(separator: ", "))}"
    )
    #expect(reply.status == 201)
    return try #require((reply.json as? [String: Any])?["id"] as? String)
  }

  /// An access token to the emulated marketplace's API, fetched once (they last a day):
  /// helpers polled in `eventually` need not ask for one each time.
  package func marketplaceToken() async throws -> String {
    if let token = cachedToken.withLock({ $0 }) { return token }
    let token = try await emulator.accessToken()
    cachedToken.withLock { $0 = token }
    return token
  }

  private let cachedToken = Mutex<String?>(nil)

  /// The subscription as the marketplace has it (Get subscription).
  package func marketplaceSubscription(_ id: String) async throws -> [String: Any] {
    try await emulator.subscription(id, token: try await marketplaceToken())
  }

  /// An operation as the marketplace has it (Get Operation).
  package func marketplaceOperation(
    _ subscription: String,
    _ operation: String
  ) async throws -> [String: Any] {
    let token = try await marketplaceToken()
    let reply = try await emulator.request(
      .GET,
      "/api/saas/subscriptions/\(subscription)/operations/\(operation)?api-version=2018-08-31",
      token: token
    )
    return try #require(reply.json as? [String: Any])
  }

  /// The console's status of a workspace (its internal directory).
  package func workspaceStatus(_ id: String) async throws -> Guance_Console_V1_WorkspaceStatus {
    try await Self.client(console) { client in
      try await Guance_Console_V1_WorkspaceDirectoryService.Client(wrapping: client)
        .lookupWorkspace(
          .with { $0.workspaceID = id },
          metadata: ["authorization": "Bearer \(Self.credential)"]
        ).workspace.status
    }
  }

  /// Polls `condition` until it holds or `timeout` passes; returns whether it held.
  package func eventually(
    timeout: Duration = .testPatience,
    _ condition: () async throws -> Bool
  ) async throws -> Bool {
    try await SuiteTesting.eventually(within: timeout, condition)
  }

  /// The gateway's record of a lifecycle operation: its state and outcome.
  package func lifecycleOperation(
    _ id: String
  ) async throws -> (state: String, outcome: String?, deliveries: Int)? {
    try await TestDatabase.withClient(gatewayDatabase) { client in
      let rows = try await client.query(
        "SELECT state, outcome, deliveries FROM lifecycle_operations WHERE id = \(id.lowercased())"
      )
      for try await row in rows.decode((String, String?, Int).self) { return row }
      return nil
    }
  }

  package static func client<Result: Sendable>(
    _ process: ServiceProcess,
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
  ) async throws -> Result {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: process.port),
        transportSecurity: .plaintext
      ),
      handleClient: body
    )
  }

  package func activation<Result: Sendable>(
    _ body: (ActivationClient) async throws -> Result
  ) async throws -> Result {
    try await Self.client(gateway) { try await body(ActivationClient(wrapping: $0)) }
  }

  package func consoleClient<Result: Sendable>(
    _ body: (ConsoleClient) async throws -> Result
  ) async throws -> Result {
    try await Self.client(console) { try await body(ConsoleClient(wrapping: $0)) }
  }

  package func billingClient<Result: Sendable>(
    _ body: (BillingClient) async throws -> Result
  ) async throws -> Result {
    try await Self.client(billing) { try await body(BillingClient(wrapping: $0)) }
  }

  /// A fresh purchase by `purchaser` (tenant, object), resolved into a session.
  package func purchaseAndResolve(
    purchaser: (tenant: String, object: String),
    email: String = "buyer@contoso.example"
  )
    async throws -> (subscription: String, token: String, activation: Guance_Gateway_V1_Activation)
  {
    let purchase = try await emulator.purchase(
      #"{"purchaser": {"emailId": "\#(email)", "objectId": "\#(purchaser.object)", "tenantId": "\#(purchaser.tenant)", "puid": ""}}"#
    )
    let activation = try await activation { client in
      try await client.resolveActivation(.with { $0.marketplaceToken = purchase.token }).activation
    }
    return (purchase.id, purchase.token, activation)
  }

  /// How many times the emulated marketplace accepted Activate for the subscription.
  package func activations(of subscription: String) async throws -> Int {
    let reply = try await emulator.request(.GET, "/admin/subscriptions/\(subscription)/activations")
    return try #require((reply.json as? [String: Any])?["activations"] as? Int)
  }

  /// Waits (up to `timeout`) for the session's activation to reach `state`.
  package func waitFor(
    _ state: Guance_Gateway_V1_ActivationState,
    session: String,
    timeout: Duration = .testPatience
  ) async throws -> Guance_Gateway_V1_Activation {
    let deadline = ContinuousClock.now + timeout
    while true {
      let current = try await activation { client in
        try await client.getActivation(.with { $0.sessionID = session }).activation
      }
      if current.state == state || ContinuousClock.now > deadline { return current }
      try await Task.sleep(for: .milliseconds(200))
    }
  }

  /// Sets the emulated marketplace's fault plan (`{"count": 0}` clears it).
  package func faults(_ json: String) async throws {
    #expect(try await emulator.request(.POST, "/admin/faults", body: json).status == 204)
  }

  package typealias BillingInternalClient = Guance_Billing_V1_BillingInternalService.Client<
    HTTP2ClientTransport.Posix
  >
  package static let internalCall: Metadata = ["authorization": "Bearer \(credential)"]

  package func billingInternal<Result: Sendable>(
    _ body: (BillingInternalClient) async throws -> Result
  ) async throws -> Result {
    try await Self.client(billing) { try await body(BillingInternalClient(wrapping: $0)) }
  }

  /// Runs `query` on the billing center's database (tests move bindings back in time).
  package func billingExecute(_ query: PostgresQuery) async throws {
    try await TestDatabase.withClient(billingDatabase) { client in _ = try await client.query(query)
    }
  }

  /// One value from the gateway's database (tests look at saga progress).
  package func gatewayQuery<Value: PostgresDecodable>(
    _ query: PostgresQuery,
    as type: Value.Type
  ) async throws -> Value? {
    try await TestDatabase.withClient(gatewayDatabase) { client in
      for try await value in try await client.query(query).decode(Value.self) { return value }
      return nil
    }
  }
}
