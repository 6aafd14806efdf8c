import Foundation
import GuanceContracts
import SuiteTesting
import Testing

/// The public services as browsers reach them: Connect and gRPC-Web beside gRPC, over HTTP/2
/// and HTTP/1.1, checked with an independent client (`buf curl`, from PyPI's buf-bin, in the
/// project's Python environment) and with curl for what only a browser sends (CORS).
@Suite("browser protocols (Connect, gRPC-Web) on the public services", .startsServices)
struct BrowserProtocolTests {
  /// The page origin the suite is told to trust.
  static let page = "http://activation.test"

  /// `buf curl` with the contracts' schema; its output and whether it succeeded.
  static func buf(
    _ protocolName: String,
    http2: Bool,
    _ url: String,
    _ body: String
  ) async throws -> (ok: Bool, output: String) {
    let bin = URL(fileURLWithPath: try ProjectPython.interpreter()).deletingLastPathComponent()
    var arguments = [
      "curl", "--protocol", protocolName, "--schema", ProjectPython.packageFile("Protos"),
      "-d", body, url,
    ]
    if http2 { arguments.insert("--http2-prior-knowledge", at: 1) }
    let result = try await Command.run(
      bin.appendingPathComponent("buf").path,
      arguments,
      mergingErrors: true
    )
    return (result.status == 0, result.output)
  }

  static func json(_ text: String) throws -> [String: Any] {
    // buf prints the error's JSON after a line naming it, when it fails.
    let start = try #require(text.firstIndex(of: "{"), "no JSON in \(text)")
    let object = try JSONSerialization.jsonObject(with: Data(text[start...].utf8))
    return try #require(object as? [String: Any])
  }

  @Test(
    "Connect, gRPC-Web and gRPC call GetActivation and ListSites alike, and refuse a bad request with the same details"
  )
  func threeProtocols() async throws {
    try await SuiteHarness.with(everyService: ["BROWSER_ORIGINS": Self.page]) { suite in
      let (_, _, activation) = try await suite.purchaseAndResolve(
        purchaser: (tenant: "tenant-web", object: "buyer-web")
      )
      let gateway = "http://\(suite.gateway.address)/guance.gateway.v1.ActivationService/"
      let console = "http://\(suite.console.address)/guance.console.v1.WorkspaceConsoleService/"
      var refusals: [String: [String: Any]] = [:]
      // gRPC needs HTTP/2; the browser protocols are served on both versions.
      for (name, http2) in [
        ("connect", true), ("connect", false), ("grpcweb", true), ("grpcweb", false),
        ("grpc", true),
      ] {
        let label = "\(name) over HTTP/\(http2 ? "2" : "1.1")"
        let got = try await Self.buf(
          name,
          http2: http2,
          gateway + "GetActivation",
          #"{"session_id": "\#(activation.sessionID)"}"#
        )
        #expect(got.ok, "\(label): \(got.output)")
        let answer = try Self.json(got.output)
        let answered = try #require(answer["activation"] as? [String: Any], "\(label)")
        #expect(answered["sessionId"] as? String == activation.sessionID, "\(label)")
        #expect(answered["state"] as? String == "ACTIVATION_STATE_NEEDS_BILLING_ACCOUNT")

        let sites = try await Self.buf(name, http2: http2, console + "ListSites", "{}")
        #expect(sites.ok, "\(label): \(sites.output)")
        let listed = try #require(try Self.json(sites.output)["sites"] as? [[String: Any]])
        #expect(listed.contains { $0["code"] as? String == "us1" }, "\(label)")

        // Bad input: every field of the request checked, named by its own path.
        let bad = try await Self.buf(
          name,
          http2: http2,
          gateway + "StartBillingAccountBinding",
          #"{"session_id": "\#(activation.sessionID)", "billing_username": ""}"#
        )
        #expect(!bad.ok, "\(label): \(bad.output)")
        refusals[label] = try Self.json(bad.output)
      }
      let grpc = try #require(refusals["grpc over HTTP/2"])
      #expect(grpc["code"] as? String == "invalid_argument")
      let details = try #require(grpc["details"] as? [[String: Any]])
      #expect(details.contains { $0["type"] as? String == "google.rpc.BadRequest" })
      for (label, refusal) in refusals {
        #expect(refusal["code"] as? String == "invalid_argument", "\(label)")
        #expect(
          (refusal["details"] as? [[String: Any]])?.map {
            "\($0["type"] ?? "")=\($0["value"] ?? "")"
          }
            == details.map { "\($0["type"] ?? "")=\($0["value"] ?? "")" },
          "\(label) details differ from gRPC's"
        )
      }
    }
  }

  /// curl with headers, over HTTP/1.1; the status line, headers and body.
  static func curl(_ arguments: [String]) async throws -> String {
    try await Command.run("/usr/bin/curl", ["-si"] + arguments).output
  }

  @Test(
    "CORS: an allowed page's preflight is answered and its answer readable; other pages, admin and internal services get nothing"
  )
  func cors() async throws {
    try await SuiteHarness.with(everyService: ["BROWSER_ORIGINS": Self.page]) { suite in
      let base = "http://\(suite.gateway.address)"
      let method = base + "/guance.gateway.v1.ActivationService/GetActivation"
      let preflight = try await Self.curl([
        "-X", "OPTIONS", "-H", "Origin: \(Self.page)", "-H", "Access-Control-Request-Method: POST",
        "-H", "Access-Control-Request-Headers: content-type, connect-protocol-version", method,
      ])
      #expect(preflight.hasPrefix("HTTP/1.1 204"), "\(preflight)")
      #expect(preflight.contains("access-control-allow-origin: \(Self.page)"))
      #expect(
        preflight.contains("access-control-allow-headers: content-type, connect-protocol-version")
      )
      #expect(!preflight.contains("access-control-allow-origin: *"))

      let call = try await Self.curl([
        "-H", "Origin: \(Self.page)", "-H", "content-type: application/json", "-d",
        #"{"sessionId": "no-such-session"}"#, method,
      ])
      #expect(call.hasPrefix("HTTP/1.1 404"), "\(call)")
      #expect(call.contains("access-control-allow-origin: \(Self.page)"))
      #expect(call.contains("access-control-expose-headers: grpc-status"))
      #expect(call.contains(#""code":"not_found""#))

      // Another page: no preflight, no answer.
      for arguments in [
        ["-X", "OPTIONS", "-H", "Origin: http://elsewhere.test", method],
        [
          "-H", "Origin: http://elsewhere.test", "-H", "content-type: application/json", "-d", "{}",
          method,
        ],
      ] {
        let refused = try await Self.curl(arguments)
        #expect(refused.hasPrefix("HTTP/1.1 403"), "\(refused)")
        #expect(!refused.contains("access-control-allow-origin"))
      }
      // Admin and internal services stay gRPC only, for browsers and for Connect clients alike.
      for path in [
        "/guance.gateway.v1.GatewayAdminService/ListSubscriptions",
        "/guance.billing.v1.BillingInternalService/ConfirmBinding",
      ] {
        let host = path.contains("billing") ? suite.billing.address : suite.gateway.address
        let refused = try await Self.curl([
          "-H", "content-type: application/json", "-d", "{}", "http://\(host)\(path)",
        ])
        #expect(refused.hasPrefix("HTTP/1.1 501"), "\(refused)")
        #expect(refused.contains(#""code":"unimplemented""#))
        let preflight = try await Self.curl([
          "-X", "OPTIONS", "-H", "Origin: \(Self.page)", "http://\(host)\(path)",
        ])
        #expect(preflight.hasPrefix("HTTP/1.1 403"), "\(preflight)")
      }
      // gRPC itself needs HTTP/2's trailers.
      let grpcOverHTTP1 = try await Self.curl([
        "-H", "content-type: application/grpc", "--data-binary", "", method,
      ])
      #expect(grpcOverHTTP1.hasPrefix("HTTP/1.1 505"), "\(grpcOverHTTP1)")
    }
  }
}
