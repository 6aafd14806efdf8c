import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import SuitePersistence
import SuiteRPC
import SuiteTesting
import SwiftProtobuf
import Testing

/// Mutual TLS between the services, with certificates from `scripts/certs.sh` (`make certs`).
@Suite("TLS between services", .startsServices)
struct TLSTests {
  /// Makes a CA with server and client certificates in `directory`.
  static func makeCertificates(in directory: URL, name: String) async throws {
    let (status, output) = try await Command.run(
      ProjectPython.packageFile("scripts/certs.sh"),
      [directory.path, name]
    )
    #expect(status == 0, "\(output)")
  }

  /// A new work folder with the certificates of two CAs: `ours` (named `name`) and
  /// `foreign`, for checks that one is trusted and the other refused. The caller removes `work`.
  static func twoCertificateAuthorities(
    _ name: String
  ) async throws -> (work: URL, ours: URL, foreign: URL) {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "tls-\(UUID().uuidString)"
    )
    let ours = work.appendingPathComponent("certs")
    let foreign = work.appendingPathComponent("foreign")
    try await makeCertificates(in: ours, name: name)
    try await makeCertificates(in: foreign, name: "Foreign CA")
    return (work, ours, foreign)
  }

  /// Whether the server on `port` answers a health check over `security`. `timeout`: a refused
  /// client retries its connection until the deadline, so checks that expect a refusal give a
  /// short one; the rest wait as long as a loaded machine may need.
  static func serving(
    port: Int,
    _ security: HTTP2ClientTransport.Posix.TransportSecurity,
    timeout: Duration = .testPatience
  ) async -> Result<Bool, any Error> {
    do {
      return .success(
        try await withGRPCClient(
          transport: .http2NIOPosix(
            target: .ipv4(address: "127.0.0.1", port: port),
            transportSecurity: security
          )
        ) { client in
          var options = CallOptions.defaults
          options.timeout = timeout
          return try await Grpc_Health_V1_Health.Client(wrapping: client).check(
            .init(),
            options: options
          ).status
            == .serving
        }
      )
    } catch {
      return .failure(error)
    }
  }

  @Test(
    "a console requiring client certificates serves mTLS clients of its CA and refuses the rest; billing-center reaches it over mTLS"
  )
  func mutualTLS() async throws {
    let (work, ours, foreign) = try await Self.twoCertificateAuthorities("Suite test CA")
    defer { try? FileManager.default.removeItem(at: work) }
    func file(_ directory: URL, _ name: String) -> String {
      directory.appendingPathComponent(name).path
    }
    let clientTLS = [
      "GRPC_CLIENT_CA_FILE": file(ours, "ca.pem"),
      "GRPC_CLIENT_CERT_FILE": file(ours, "client.pem"),
      "GRPC_CLIENT_KEY_FILE": file(ours, "client.key"),
    ]
    let serverTLS = [
      "GRPC_TLS_CERT_FILE": file(ours, "server.pem"), "GRPC_TLS_KEY_FILE": file(ours, "server.key"),
      "GRPC_TLS_CLIENT_CA_FILE": file(ours, "ca.pem"),
    ]

    try await TestDatabase.withFreshDatabase { consoleDB in
      try await TestDatabase.withFreshDatabase { billingDB in
        let console = try await ServiceProcess(
          "workspace-console",
          environment: [
            "DATABASE_URL": consoleDB.text, "INTERNAL_CREDENTIAL": "tls-test",
            "MAILBOX_DIR": work.appendingPathComponent("mail").path,
          ].merging(serverTLS) { $1 },
          workDirectory: work.appendingPathComponent("console")
        )
        // billing-center serves over mTLS too, and calls the console as an mTLS client.
        let billing = try await ServiceProcess(
          "billing-center",
          environment: [
            "DATABASE_URL": billingDB.text, "INTERNAL_CREDENTIAL": "tls-test",
            "CONSOLE_ADDRESS": console.address,
            "MAILBOX_DIR": work.appendingPathComponent("mail").path,
          ].merging(serverTLS) { $1 }.merging(clientTLS) { $1 },
          workDirectory: work.appendingPathComponent("billing")
        )
        do {
          try await exercise(console: console, billing: billing, ours: ours, foreign: foreign)
        } catch {
          Issue.record("console log:\n\(console.log)\nbilling log:\n\(billing.log)")
          await billing.stop()
          await console.stop()
          throw error
        }
        #expect(await billing.stop() == 0)
        #expect(await console.stop() == 0)
      }
    }
  }

  func exercise(
    console: ServiceProcess,
    billing: ServiceProcess,
    ours: URL,
    foreign: URL
  ) async throws {
    func tls(_ directory: URL, certificate: URL?) -> ClientTLS {
      ClientTLS(
        caFile: ours.appendingPathComponent("ca.pem").path,
        certificateFile: certificate.map { $0.appendingPathComponent("client.pem").path },
        keyFile: certificate.map { $0.appendingPathComponent("client.key").path }
      )
    }
    let valid = tls(ours, certificate: ours)
    #expect((try? await Self.serving(port: console.port, valid.transportSecurity).get()) == true)
    // No client certificate, one from a foreign CA, and plaintext: all refused.
    for (what, security) in [
      ("no client certificate", tls(ours, certificate: nil).transportSecurity),
      ("a foreign CA's client certificate", tls(ours, certificate: foreign).transportSecurity),
      ("plaintext", HTTP2ClientTransport.Posix.TransportSecurity.plaintext),
    ] {
      let outcome = await Self.serving(port: console.port, security, timeout: .seconds(5))
      #expect(throws: (any Error).self, "\(what) must be refused") { try outcome.get() }
    }
    // A client trusting another CA refuses the server.
    let distrustful = ClientTLS(
      caFile: foreign.appendingPathComponent("ca.pem").path,
      certificateFile: ours.appendingPathComponent("client.pem").path,
      keyFile: ours.appendingPathComponent("client.key").path
    )
    let refused = await Self.serving(
      port: console.port,
      distrustful.transportSecurity,
      timeout: .seconds(5)
    )
    #expect(throws: (any Error).self) { try refused.get() }

    // The client every service uses for the others (gateway → billing center and console,
    // billing center → console), built from its GRPC_CLIENT_* settings.
    let suiteClient = try GRPCClientService(
      address: console.address,
      variable: "CONSOLE_ADDRESS",
      tls: valid
    )
    let viaSuiteClient = try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await suiteClient.client.runConnections() }
      defer { suiteClient.client.beginGracefulShutdown() }
      var options = CallOptions.defaults
      options.timeout = .testPatience
      return try await Grpc_Health_V1_Health.Client(wrapping: suiteClient.client).check(
        .init(),
        options: options
      )
      .status
    }
    #expect(viaSuiteClient == .serving)

    // billing-center's console client presents its certificate: binding a console workspace
    // (which billing-center looks up in the console) works.
    let workspace = try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: console.port),
        transportSecurity: valid.transportSecurity
      )
    ) { client in
      try await Guance_Console_V1_WorkspaceConsoleService.Client(wrapping: client)
        .registerAndCreateWorkspace(
          .with {
            $0.workspaceName = "Secure"
            $0.language = "en"
            $0.site = "us1"
            $0.username = "secure"
            $0.password = "correct horse battery"
            $0.passwordConfirmation = "correct horse battery"
            $0.email = "secure@example.com"
            $0.termsAccepted = true
          }
        ).workspace
    }
    let binding = try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: "127.0.0.1", port: billing.port),
        transportSecurity: valid.transportSecurity
      )
    ) { client in
      let center = Guance_Billing_V1_BillingCenterService.Client(wrapping: client)
      let account = try await center.registerBillingAccount(
        .with {
          $0.username = "secure"
          $0.password = "correct horse battery"
          $0.email = "billing@secure.example"
          $0.company = .with {
            $0.companyName = "Secure"
            $0.industry = "Software"
            $0.region = "EU"
            $0.contactName = "Sam"
          }
        }
      ).billingAccount
      return try await center.bindWorkspace(
        .with {
          $0.billingAccountID = account.id
          $0.workspaceID = workspace.id
          $0.settlement = .with { $0.method = .billingAccount }
        },
        metadata: ["authorization": "Bearer tls-test"]
      ).binding
    }
    #expect(binding.workspaceName == "Secure")
  }
}
