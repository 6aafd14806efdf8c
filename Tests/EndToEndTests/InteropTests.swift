import Foundation
import SuiteTesting
import Testing

/// grpc's interop cases (interop-test-descriptions.md), driven by Python's grpcio client
/// (scripts/interop_client.py) against `interop-server`: grpc.testing.TestService on the
/// suite's own server configuration, over plaintext and over mutual TLS.
@Suite("gRPC interop cases with grpcio", .startsServices)
struct InteropTests {
  static let cases = [
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong",
    "empty_stream",
    "custom_metadata", "status_code_and_message", "special_status_message", "unimplemented_method",
    "unimplemented_service", "cancel_after_begin", "cancel_after_first_response",
    "timeout_on_sleeping_server",
  ]

  /// Runs the client; returns each case's verdict and the client's exit status.
  static func runClient(
    address: String,
    arguments: [String] = []
  ) async throws -> (
    verdicts: [String: (ok: Bool, detail: String)], status: Int32
  ) {
    // grpcio's C core logs refused handshakes to stderr; the verdicts say what matters.
    let (status, output) = try await Command.run(
      try ProjectPython.interpreter(),
      [ProjectPython.packageFile("scripts/interop_client.py"), address] + arguments,
      environment: ProcessInfo.processInfo.environment.merging(["GRPC_VERBOSITY": "NONE"]) { $1 }
    )
    var verdicts: [String: (ok: Bool, detail: String)] = [:]
    for line in output.split(separator: "\n") {
      guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
        let name = object["case"] as? String, let ok = object["ok"] as? Bool
      else { continue }
      verdicts[name] = (ok, object["detail"] as? String ?? "")
    }
    return (verdicts, status)
  }

  static func expectAllPass(
    _ result: (verdicts: [String: (ok: Bool, detail: String)], status: Int32)
  ) {
    #expect(Set(result.verdicts.keys) == Set(cases))
    for name in cases {
      let verdict = result.verdicts[name]
      #expect(verdict?.ok == true, "\(name): \(verdict?.detail ?? "did not run")")
    }
    #expect(result.status == 0)
  }

  static func withServer(
    environment: [String: String] = [:],
    _ body: (ServiceProcess) async throws -> Void
  ) async throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "interop-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: work) }
    let server = try await ServiceProcess(
      "interop-server",
      environment: ["INTERNAL_CREDENTIAL": "interop"].merging(environment) { $1 },
      workDirectory: work
    )
    do {
      try await body(server)
    } catch {
      Issue.record("interop-server log:\n\(server.log)")
      await server.stop()
      throw error
    }
    #expect(await server.stop() == 0)
  }

  /// The suite's own server transport and grpc-swift's (`GRPC_SERVER_TRANSPORT`).
  static let transports = ["suite", "grpc-swift"]

  @Test("every applicable interop case passes over plaintext", arguments: transports)
  func plaintext(transport: String) async throws {
    try await Self.withServer(environment: ["GRPC_SERVER_TRANSPORT": transport]) { server in
      Self.expectAllPass(try await Self.runClient(address: server.address))
    }
  }

  @Test("every applicable interop case passes over mutual TLS", arguments: transports)
  func mutualTLS(transport: String) async throws {
    let certs = FileManager.default.temporaryDirectory.appendingPathComponent(
      "interop-certs-\(UUID().uuidString)"
    )
    defer { try? FileManager.default.removeItem(at: certs) }
    try await TLSTests.makeCertificates(in: certs, name: "Interop test CA")
    func file(_ name: String) -> String { certs.appendingPathComponent(name).path }
    try await Self.withServer(
      environment: [
        "GRPC_TLS_CERT_FILE": file("server.pem"), "GRPC_TLS_KEY_FILE": file("server.key"),
        "GRPC_TLS_CLIENT_CA_FILE": file("ca.pem"), "GRPC_SERVER_TRANSPORT": transport,
      ]
    ) { server in
      // The certificate names localhost; grpcio checks the name it dials.
      let address = "localhost:\(server.port)"
      Self.expectAllPass(
        try await Self.runClient(
          address: address,
          arguments: [
            "--ca", file("ca.pem"), "--cert", file("client.pem"), "--key", file("client.key"),
          ]
        )
      )
      // Without a client certificate the handshake fails: every case fails, the client says so.
      let refused = try await Self.runClient(
        address: address,
        arguments: ["--ca", file("ca.pem"), "--cases", "empty_unary"]
      )
      #expect(refused.verdicts["empty_unary"]?.ok == false)
      #expect(refused.status == 1)
    }
  }
}
