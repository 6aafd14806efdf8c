import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import NIOHTTP1
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

/// The whole suite as processes — emulator, workspace-console, billing-center and
/// marketplace-gateway, each on its own fresh database — driven the way a frontend drives it.
final class SuiteHarness: @unchecked Sendable {
  typealias ActivationClient = Guance_Gateway_V1_ActivationService.Client<HTTP2ClientTransport.Posix>
  typealias ConsoleClient = Guance_Console_V1_WorkspaceConsoleService.Client<HTTP2ClientTransport.Posix>
  typealias BillingClient = Guance_Billing_V1_BillingCenterService.Client<HTTP2ClientTransport.Posix>

  static let credential = "suite-test-credential"

  let emulator: EmulatorProcessTests.Emulator
  let console: ServiceProcess
  let billing: ServiceProcess
  private(set) var gateway: ServiceProcess
  let gatewayDatabase: DatabaseURL
  let consoleMail: DevelopmentMailboxReader
  let billingMail: DevelopmentMailboxReader
  private let work: URL
  private let gatewayEnvironment: [String: String]

  private init(
    emulator: EmulatorProcessTests.Emulator, console: ServiceProcess, billing: ServiceProcess, gateway: ServiceProcess,
    gatewayDatabase: DatabaseURL, work: URL, gatewayEnvironment: [String: String]
  ) {
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

  /// Runs `body` against a fresh suite; `gateway` adds to the gateway's environment.
  static func with(gateway extra: [String: String] = [:], _ body: (SuiteHarness) async throws -> Void) async throws {
    try await EmulatorProcessTests.withEmulator { emulator in
      try await TestDatabase.withFreshDatabase { consoleDB in
        try await TestDatabase.withFreshDatabase { billingDB in
          try await TestDatabase.withFreshDatabase { gatewayDB in
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("suite-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: work) }
            let console = try await ServiceProcess(
              "workspace-console",
              environment: [
                "DATABASE_URL": consoleDB.text, "INTERNAL_CREDENTIAL": credential,
                "MAILBOX_DIR": work.appendingPathComponent("console-mail").path,
              ], workDirectory: work.appendingPathComponent("console"))
            let billing = try await ServiceProcess(
              "billing-center",
              environment: [
                "DATABASE_URL": billingDB.text, "INTERNAL_CREDENTIAL": credential, "CONSOLE_ADDRESS": console.address,
                "MAILBOX_DIR": work.appendingPathComponent("billing-mail").path,
              ], workDirectory: work.appendingPathComponent("billing"))
            let environment = [
              "DATABASE_URL": gatewayDB.text, "INTERNAL_CREDENTIAL": credential, "BILLING_ADDRESS": billing.address,
              "CONSOLE_ADDRESS": console.address, "MARKETPLACE_API_URL": "\(emulator.base)/api",
              "MARKETPLACE_LOGIN_URL": emulator.base, "MARKETPLACE_TENANT_ID": "tenant-1",
              "MARKETPLACE_CLIENT_ID": "app-1", "MARKETPLACE_CLIENT_SECRET": "s3cret", "LANDING_PORT": "0",
              "CONSOLE_LOGIN_URL": "http://console.test/login", "ACTIVATION_RECONCILE_SECONDS": "1",
              "ACTIVATION_RETRY_SECONDS": "1", "ACTIVATION_MAX_RETRY_SECONDS": "2",
              // The shortest lease the gateway accepts with 2 s marketplace calls: 3 × 2 × 4 + 5.
              "MARKETPLACE_TIMEOUT_SECONDS": "2", "ACTIVATION_LEASE_SECONDS": "29",
            ].merging(extra) { $1 }
            var harness: SuiteHarness?
            do {
              let gateway = try await ServiceProcess(
                "marketplace-gateway", environment: environment, workDirectory: work.appendingPathComponent("gateway"))
              let suite = SuiteHarness(
                emulator: emulator, console: console, billing: billing, gateway: gateway, gatewayDatabase: gatewayDB,
                work: work, gatewayEnvironment: environment)
              harness = suite
              try await body(suite)
            } catch {
              Issue.record(
                "gateway log:\n\(harness?.gateway.log ?? "")\nbilling log:\n\(billing.log)\nconsole log:\n\(console.log)")
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

  /// SIGKILLs the gateway (a crash) and starts a new one on the same database.
  func crashAndRestartGateway() async throws {
    await gateway.kill()
    gateway = try await ServiceProcess(
      "marketplace-gateway", environment: gatewayEnvironment, workDirectory: work.appendingPathComponent("gateway"))
  }

  static func client<Result: Sendable>(
    _ process: ServiceProcess, _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
  ) async throws -> Result {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: process.port), transportSecurity: .plaintext),
      handleClient: body)
  }

  func activation<Result: Sendable>(_ body: (ActivationClient) async throws -> Result) async throws -> Result {
    try await Self.client(gateway) { try await body(ActivationClient(wrapping: $0)) }
  }

  func consoleClient<Result: Sendable>(_ body: (ConsoleClient) async throws -> Result) async throws -> Result {
    try await Self.client(console) { try await body(ConsoleClient(wrapping: $0)) }
  }

  func billingClient<Result: Sendable>(_ body: (BillingClient) async throws -> Result) async throws -> Result {
    try await Self.client(billing) { try await body(BillingClient(wrapping: $0)) }
  }

  /// A fresh purchase by `purchaser` (tenant, object), resolved into a session.
  func purchaseAndResolve(purchaser: (tenant: String, object: String), email: String = "buyer@contoso.example")
    async throws -> (subscription: String, token: String, activation: Guance_Gateway_V1_Activation)
  {
    let purchase = try await emulator.purchase(
      #"{"purchaser": {"emailId": "\#(email)", "objectId": "\#(purchaser.object)", "tenantId": "\#(purchaser.tenant)", "puid": ""}}"#)
    let activation = try await activation { client in
      try await client.resolveActivation(.with { $0.marketplaceToken = purchase.token }).activation
    }
    return (purchase.id, purchase.token, activation)
  }

  /// How many times the emulated marketplace accepted Activate for the subscription.
  func activations(of subscription: String) async throws -> Int {
    let reply = try await emulator.request(.GET, "/admin/subscriptions/\(subscription)/activations")
    return try #require((reply.json as? [String: Any])?["activations"] as? Int)
  }

  /// Waits (up to `timeout`) for the session's activation to reach `state`.
  func waitFor(
    _ state: Guance_Gateway_V1_ActivationState, session: String, timeout: Duration = .seconds(30)
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
  func faults(_ json: String) async throws {
    #expect(try await emulator.request(.POST, "/admin/faults", body: json).status == 204)
  }

  /// One value from the gateway's database (tests look at saga progress).
  func gatewayQuery<Value: PostgresDecodable>(_ query: PostgresQuery, as type: Value.Type) async throws -> Value? {
    try await TestDatabase.withClient(gatewayDatabase) { client in
      for try await value in try await client.query(query).decode(Value.self) { return value }
      return nil
    }
  }
}
