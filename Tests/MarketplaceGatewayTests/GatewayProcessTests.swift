import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import NIOCore
import NIOHTTP1
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

/// The built `marketplace-gateway` beside the emulator and a billing-center process.
@Suite("marketplace-gateway as a process", .startsServices)
struct GatewayProcessTests {
  @Test("the landing page resolves the purchase and hands the browser a session")
  func landing() async throws {
    try await EmulatorProcess.with { emulator in
      try await TestDatabase.withFreshDatabase { billingDB in
        try await TestDatabase.withFreshDatabase { gatewayDB in
          let work = FileManager.default.temporaryDirectory.appendingPathComponent(
            "gateway-\(UUID().uuidString)"
          )
          defer { try? FileManager.default.removeItem(at: work) }
          let billing = try await ServiceProcess(
            "billing-center",
            environment: [
              "DATABASE_URL": billingDB.text, "INTERNAL_CREDENTIAL": "gw-credential",
              "CONSOLE_ADDRESS": "127.0.0.1:1",
              "MAILBOX_DIR": work.appendingPathComponent("mail").path,
            ],
            workDirectory: work.appendingPathComponent("billing")
          )
          let gateway = try await ServiceProcess(
            "marketplace-gateway",
            environment: [
              "DATABASE_URL": gatewayDB.text, "INTERNAL_CREDENTIAL": "gw-credential",
              "BILLING_ADDRESS": billing.address,
              "MARKETPLACE_API_URL": "\(emulator.base)/api", "MARKETPLACE_LOGIN_URL": emulator.base,
              "MARKETPLACE_TENANT_ID": "tenant-1", "MARKETPLACE_CLIENT_ID": "app-1",
              "MARKETPLACE_CLIENT_SECRET": "s3cret",
              "LANDING_PORT": "0", "ACTIVATION_PAGE_URL": "http://pages.test/activate",
            ],
            workDirectory: work.appendingPathComponent("gateway")
          )
          do {
            try await exercise(emulator: emulator, gateway: gateway, billing: billing, work: work)
          } catch {
            Issue.record("gateway log:\n\(gateway.log)")
            await gateway.stop()
            await billing.stop()
            throw error
          }
          #expect(await gateway.stop() == 0)
          await billing.stop()
        }
      }
    }
  }

  func exercise(
    emulator: EmulatorProcess,
    gateway: ServiceProcess,
    billing: ServiceProcess,
    work: URL
  )
    async throws
  {
    let landingFile = work.appendingPathComponent("gateway/marketplace-gateway.ready.landing")
    var landingAddress = ""
    let start = ContinuousClock.now
    while landingAddress.isEmpty, start.duration(to: .now) < .testPatience {
      landingAddress =
        (try? String(contentsOf: landingFile, encoding: .utf8))?
        .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
      if landingAddress.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
    }
    #expect(!landingAddress.isEmpty)

    let purchase = try await emulator.purchase()
    let query = try #require(purchase.landing.split(separator: "?", maxSplits: 1).last)
    let http = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
    do {
      let session = try await checkLanding(
        http: http,
        address: landingAddress,
        query: String(query),
        purchase: purchase.id,
        gateway: gateway
      )
      try await bindExistingBillingAccount(
        session: session,
        gateway: gateway,
        billing: billing,
        mailbox: work.appendingPathComponent("mail")
      )
    } catch {
      try? await http.shutdown()
      throw error
    }
    try await http.shutdown()
  }

  func checkLanding(
    http: HTTPClient,
    address landingAddress: String,
    query: String,
    purchase: String,
    gateway: ServiceProcess
  )
    async throws -> String
  {
    let redirect = try await http.execute(
      HTTPClientRequest(url: "http://\(landingAddress)/landing?\(query)"),
      timeout: .testPatience
    )
    #expect(redirect.status == .seeOther)
    let location = try #require(redirect.headers.first(name: "location"))
    #expect(location.hasPrefix("http://pages.test/activate?session="))
    let session = String(try #require(location.split(separator: "=").last))

    var asJSON = HTTPClientRequest(url: "http://\(landingAddress)/landing?\(query)")
    asJSON.headers.add(name: "accept", value: "application/json")
    let json = try await http.execute(asJSON, timeout: .testPatience)
    #expect(json.status == .ok)

    let invalid = try await http.execute(
      HTTPClientRequest(url: "http://\(landingAddress)/landing?token=expired"),
      timeout: .testPatience
    )
    #expect(invalid.status == .badRequest)
    let page = String(buffer: try await invalid.body.collect(upTo: 1 << 16))
    #expect(page.contains("Configure account"))

    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: gateway.port),
        transportSecurity: .plaintext
      )
    ) { client in
      let activation = try await Guance_Gateway_V1_ActivationService.Client(wrapping: client)
        .getActivation(.with { $0.sessionID = session }).activation
      #expect(activation.subscription.subscriptionID == purchase)
      #expect(activation.state == .needsBillingAccount)
    }
    return session
  }

  /// The bind branch against the real billing center: the code travels by its mailbox.
  func bindExistingBillingAccount(
    session: String,
    gateway: ServiceProcess,
    billing: ServiceProcess,
    mailbox: URL
  )
    async throws
  {
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: billing.port),
        transportSecurity: .plaintext
      )
    ) { billingClient in
      _ = try await Guance_Billing_V1_BillingCenterService.Client(wrapping: billingClient)
        .registerBillingAccount(
          .with {
            $0.username = "fabrikam"
            $0.password = "correct horse battery"
            $0.email = "billing@fabrikam.example"
            $0.company = .with {
              $0.companyName = "Fabrikam"
              $0.industry = "Retail"
              $0.region = "EU"
              $0.contactName = "Fay"
            }
          }
        )
    }
    try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: gateway.port),
        transportSecurity: .plaintext
      )
    ) { client in
      let activation = Guance_Gateway_V1_ActivationService.Client(wrapping: client)
      let started = try await activation.startBillingAccountBinding(
        .with {
          $0.sessionID = session
          $0.billingUsername = "fabrikam"
        }
      )
      #expect(started.maskedEmail == "***@***")
      let code = try await DevelopmentMailboxReader(directory: mailbox).code(
        for: "billing@fabrikam.example"
      )
      let confirmed = try await activation.confirmBillingAccountBinding(
        .with {
          $0.sessionID = session
          $0.code = code
        }
      ).activation
      #expect(confirmed.state == .needsWorkspace)
      #expect(confirmed.billingAccountUsername == "fabrikam")
      // The new billing account pays for no workspace yet: the page offers to create one.
      let bindable = try await activation.listBindableWorkspaces(.with { $0.sessionID = session })
      #expect(bindable.workspaces.isEmpty)
    }
  }
}
