import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import GuanceContracts
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

/// The built `billing-center` executable beside a real `workspace-console` process, on real
/// HTTP/2 over loopback and a real PostgreSQL (one database each).
@Suite("billing-center as a process", .startsServices)
struct BillingCenterProcessTests {
  static let credential = "e2e-billing-credential"
  static let internalCall: Metadata = ["authorization": "Bearer \(credential)"]

  static var options: CallOptions {
    var options = CallOptions.defaults
    options.timeout = .testPatience
    return options
  }

  @Test("register, bind a console workspace, record usage, and survive the console going away")
  func suite() async throws {
    try await TestDatabase.withFreshDatabase { consoleDB in
      try await TestDatabase.withFreshDatabase { billingDB in
        let work = FileManager.default.temporaryDirectory.appendingPathComponent(
          "e2e-billing-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: work) }
        let console = try await ServiceProcess(
          "workspace-console",
          environment: [
            "DATABASE_URL": consoleDB.text, "INTERNAL_CREDENTIAL": Self.credential,
            "MAILBOX_DIR": work.appendingPathComponent("console-mail").path,
          ],
          workDirectory: work.appendingPathComponent("console")
        )
        let billing = try await ServiceProcess(
          "billing-center",
          environment: [
            "DATABASE_URL": billingDB.text, "INTERNAL_CREDENTIAL": Self.credential,
            "CONSOLE_ADDRESS": console.address,
            "MAILBOX_DIR": work.appendingPathComponent("billing-mail").path,
          ],
          workDirectory: work.appendingPathComponent("billing")
        )
        do {
          try await exercise(console: console, billing: billing)
        } catch {
          Issue.record("console log:\n\(console.log)\nbilling log:\n\(billing.log)")
          await billing.stop()
          await console.stop()
          throw error
        }
        #expect(await billing.stop() == 0)
        await console.stop()
      }
    }
  }

  func exercise(console: ServiceProcess, billing: ServiceProcess) async throws {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: console.port),
        transportSecurity: .plaintext
      )
    ) { consoleClient in
      try await withGRPCClient(
        transport: .http2NIOPosix(
          target: .ipv4(address: "127.0.0.1", port: billing.port),
          transportSecurity: .plaintext
        )
      ) { billingClient in
        let health = Grpc_Health_V1_Health.Client(wrapping: billingClient)
        #expect(try await health.check(.init(), options: Self.options).status == .serving)

        let center = Guance_Billing_V1_BillingCenterService.Client(wrapping: billingClient)
        let internalAPI = Guance_Billing_V1_BillingInternalService.Client(wrapping: billingClient)
        let account = try await center.registerBillingAccount(
          .with {
            $0.username = "initech"
            $0.password = "correct horse battery"
            $0.email = "billing@initech.example"
            $0.phone = "+14155550100"
            $0.company = .with {
              $0.companyName = "Initech"
              $0.industry = "Software"
              $0.region = "US"
              $0.contactName = "Bill"
            }
          },
          options: Self.options
        ).billingAccount
        let login = try await center.login(
          .with {
            $0.login = "+1 415 555 0100"
            $0.password = "correct horse battery"
          },
          options: Self.options
        )
        #expect(login.billingAccount.id == account.id)

        let workspace = try await Guance_Console_V1_WorkspaceConsoleService.Client(
          wrapping: consoleClient
        )
        .registerAndCreateWorkspace(
          .with {
            $0.workspaceName = "Prod"
            $0.language = "en"
            $0.site = "ap1"
            $0.username = "peter"
            $0.password = "correct horse battery"
            $0.passwordConfirmation = "correct horse battery"
            $0.email = "peter@initech.example"
            $0.termsAccepted = true
          },
          options: Self.options
        ).workspace
        let session: Metadata = ["authorization": "Bearer \(login.sessionToken)"]
        // The billing center user shows that it controls the workspace: its owner's console session.
        let owner = try await Guance_Console_V1_WorkspaceConsoleService.Client(
          wrapping: consoleClient
        )
        .login(
          .with {
            $0.login = "peter"
            $0.password = "correct horse battery"
          },
          options: Self.options
        )
        let bound = try await center.bindWorkspace(
          .with {
            $0.workspaceID = workspace.id
            $0.settlement = .with { $0.method = .billingAccount }
            $0.workspaceOwnerSession = owner.sessionToken
          },
          metadata: session,
          options: Self.options
        )
        #expect(bound.binding.site == "ap1")

        let results = try await internalAPI.recordUsage(
          .with {
            $0.events = (0..<3).map { index in
              .with {
                $0.idempotencyKey = "e2e-\(index % 2)"
                $0.workspaceID = workspace.id
                $0.billingItem = "log_events"
                $0.quantity = "1000"
                $0.usageTime = Google_Protobuf_Timestamp(date: Date())
              }
            }
          },
          metadata: Self.internalCall,
          options: Self.options
        )
        #expect(results.results == [.accepted, .accepted, .duplicate])

        // With the console gone, what needs it answers UNAVAILABLE; the rest carries on.
        await console.stop()
        let unavailable = try await #require(throws: RPCError.self) {
          try await center.listBoundWorkspaces(.init(), metadata: session, options: Self.options)
        }
        #expect(unavailable.code == .unavailable)
        let own = try await center.getBillingAccount(
          .init(),
          metadata: session,
          options: Self.options
        )
        #expect(own.billingAccount.id == account.id)
      }
    }
  }
}
