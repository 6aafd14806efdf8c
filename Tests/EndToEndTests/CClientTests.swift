import Foundation
import SuitePersistence
import SuiteTesting
import Testing

/// The C client (Tests/Interop/c: protobuf-c, nghttp2, OpenSSL) against the three services
/// as processes, over plaintext and over mutual TLS.
@Suite("A C client over nghttp2 and protobuf-c", .startsServices)
struct CClientTests {
  /// `SUITE_C_CLIENT` (built by `make test`), or built now.
  static func client() async throws -> String {
    if let path = ProcessInfo.processInfo.environment["SUITE_C_CLIENT"] { return path }
    let (status, output) = try await Command.run(
      ProjectPython.packageFile("scripts/build-c-client.sh")
    )
    #expect(status == 0, "\(output)")
    return ProjectPython.packageFile(output.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  /// Console, billing center and gateway, each on a fresh database, with `environment` added.
  static func withServices(
    environment: [String: String],
    _ body: (_ console: String, _ billing: String, _ gateway: String) async throws -> Void
  ) async throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "c-client-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: work) }
    try await TestDatabase.withFreshDatabase { consoleDB in
      try await TestDatabase.withFreshDatabase { billingDB in
        try await TestDatabase.withFreshDatabase { gatewayDB in
          let common = [
            "INTERNAL_CREDENTIAL": "c-client",
            "MAILBOX_DIR": work.appendingPathComponent("mail").path,
          ]
          .merging(environment) { $1 }
          let console = try await ServiceProcess(
            "workspace-console",
            environment: common.merging(["DATABASE_URL": consoleDB.text]) { $1 },
            workDirectory: work.appendingPathComponent("console")
          )
          let billing = try await ServiceProcess(
            "billing-center",
            environment: common.merging([
              "DATABASE_URL": billingDB.text, "CONSOLE_ADDRESS": console.address,
            ]) { $1 },
            workDirectory: work.appendingPathComponent("billing")
          )
          let gateway = try await ServiceProcess(
            "marketplace-gateway",
            environment: common.merging([
              "DATABASE_URL": gatewayDB.text, "CONSOLE_ADDRESS": console.address,
              "BILLING_ADDRESS": billing.address,
              "LANDING_PORT": "0", "MARKETPLACE_API_URL": "http://127.0.0.1:1/api",
              "MARKETPLACE_LOGIN_URL": "http://127.0.0.1:1", "MARKETPLACE_TENANT_ID": "t",
              "MARKETPLACE_CLIENT_ID": "c", "MARKETPLACE_CLIENT_SECRET": "s",
            ]) { $1 },
            workDirectory: work.appendingPathComponent("gateway")
          )
          do {
            try await body(console.address, billing.address, gateway.address)
          } catch {
            Issue.record(
              "console:\n\(console.log)\nbilling:\n\(billing.log)\ngateway:\n\(gateway.log)"
            )
            throw error
          }
          await gateway.stop()
          await billing.stop()
          await console.stop()
        }
      }
    }
  }

  @Test("registration, login, reads and field violations of every service, over plaintext")
  func plaintext() async throws {
    let client = try await Self.client()
    try await Self.withServices(environment: [:]) { console, billing, gateway in
      let (status, output) = try await Command.run(client, [console, billing, gateway])
      #expect(status == 0, "\(output)")
      #expect(output.contains("all checks passed"))
      #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 12)
    }
  }

  @Test(
    "the same over mutual TLS, the server verified against the test CA; no client certificate is refused"
  )
  func mutualTLS() async throws {
    let client = try await Self.client()
    let certs = FileManager.default.temporaryDirectory.appendingPathComponent(
      "c-certs-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: certs) }
    try await TLSTests.makeCertificates(in: certs, name: "C client test CA")
    func file(_ name: String) -> String { certs.appendingPathComponent(name).path }
    let tls = [
      "GRPC_TLS_CERT_FILE": file("server.pem"), "GRPC_TLS_KEY_FILE": file("server.key"),
      "GRPC_TLS_CLIENT_CA_FILE": file("ca.pem"), "GRPC_CLIENT_CA_FILE": file("ca.pem"),
      "GRPC_CLIENT_CERT_FILE": file("client.pem"), "GRPC_CLIENT_KEY_FILE": file("client.key"),
    ]
    try await Self.withServices(environment: tls) { console, billing, gateway in
      let (status, output) = try await Command.run(
        client,
        [
          "--ca", file("ca.pem"), "--cert", file("client.pem"), "--key", file("client.key"),
          console, billing, gateway,
        ]
      )
      #expect(status == 0, "\(output)")
      #expect(output.contains("all checks passed"))
      let (refused, why) = try await Command.run(
        client,
        ["--ca", file("ca.pem"), console, billing, gateway]
      )
      #expect(refused == 1)
      #expect(why.contains("FAIL"))
      let (plain, _) = try await Command.run(client, [console, billing, gateway])
      #expect(plain == 1)
    }
  }
}
