import Foundation
import GRPCCore
import SuiteTesting
import SuiteTransport
import Testing

/// The browser protocols on the RPC path, what buf curl does not show: the same interceptors
/// (request id, metadata both ways, error details), the deadline (`connect-timeout-ms`), the
/// size limit and compression, protobuf bodies and gRPC-Web text, over HTTP/1.1 and HTTP/2, on
/// both HTTP/2 layers of the suite's transport. curl is the client: it sends what a browser
/// would, byte for byte.
@Suite("browser protocols through the RPC layer")
struct BrowserPathTests {
  static let transports: [ServerSettings.Transport] = [.suite, .suiteNIOHTTP2]

  /// curl's answer to a POST of `body` (a shell word: `printf`, or a pipeline's output) to the
  /// greeter on `port`, status line and headers included.
  static func post(
    _ port: Int,
    http2: Bool,
    type: String,
    headers: [String] = [],
    body: String
  ) async throws -> String {
    let flags =
      (http2 ? ["--http2-prior-knowledge"] : []) + ["-si", "-H", "content-type: \(type)"]
      + headers.flatMap { ["-H", $0] }
    let words = flags.map { "'\($0)'" }.joined(separator: " ")
    let script =
      "\(body) | /usr/bin/curl \(words) --data-binary @- http://127.0.0.1:\(port)/bench.v1.Greeter/SayHello"
    return try await Command.run("/bin/sh", ["-c", script]).output
  }

  static func json(_ answer: String) throws -> [String: Any] {
    let start = try #require(answer.range(of: "\r\n\r\n")?.upperBound, "\(answer)")
    let object = try JSONSerialization.jsonObject(with: Data(answer[start...].utf8))
    return try #require(object as? [String: Any], "\(answer)")
  }

  @Test(
    "Connect and gRPC-Web reach the same interceptors, deadline, limits and decompression as gRPC",
    arguments: transports,
    [false, true]
  )
  func samePipeline(transport: ServerSettings.Transport, http2: Bool) async throws {
    let probe = UnaryPathTests.Probe()
    try await TestServer.withServer(
      TestServer.settings(transport) { $0.maxRequestBytes = 1024 },
      open: [probe],
      browser: ["bench.v1.Greeter"]
    ) { port, _ in
      let version = http2 ? "HTTP/2 200" : "HTTP/1.1 200"
      /// A Connect JSON call of the greeter with `body` (a shell word making the bytes).
      func connect(_ body: String, _ headers: [String] = []) async throws -> String {
        try await Self.post(
          port,
          http2: http2,
          type: "application/json",
          headers: headers,
          body: body
        )
      }
      // The request id and metadata both ways; trailers as Connect's trailer- headers.
      let plain = try await connect(#"printf '{"name": "x"}'"#, ["x-request-id: web-1"])
      #expect(plain.hasPrefix(version), "\(plain)")
      #expect(try Self.json(plain)["message"] as? String == "web-1")
      #expect(plain.contains("greeting: initial") && plain.contains("trailer-greeting: trailing"))

      // connect-timeout-ms is the handler's deadline, and what its own calls may wait.
      let budget = try await connect(#"printf '{"name": "budget"}'"#, ["connect-timeout-ms: 1000"])
      let left = Int(try Self.json(budget)["message"] as? String ?? "") ?? -1
      #expect((0...1000).contains(left), "\(budget)")
      let kept = try await connect(
        #"printf '{"name": "until cancelled"}'"#,
        ["connect-timeout-ms: 200"]
      )
      #expect(try Self.json(kept)["message"] as? String == "cancelled", "\(kept)")
      let malformed = try await connect(#"printf '{"name": "x"}'"#, ["connect-timeout-ms: soon"])
      #expect(try Self.json(malformed)["code"] as? String == "invalid_argument", "\(malformed)")

      // A refusal: Connect's error JSON with the BadRequest naming the field.
      let invalid = try await connect(#"printf '{"name": "invalid"}'"#)
      #expect(invalid.contains(http2 ? "HTTP/2 400" : "HTTP/1.1 400"), "\(invalid)")
      let error = try Self.json(invalid)
      #expect(error["code"] as? String == "invalid_argument")
      let details = try #require(error["details"] as? [[String: String]])
      let badRequest = try #require(details.first { $0["type"] == "google.rpc.BadRequest" })
      let value = try #require(badRequest["value"])
      let padded = value + String(repeating: "=", count: (4 - value.count % 4) % 4)
      let decoded = String(decoding: Data(base64Encoded: padded) ?? Data(), as: UTF8.self)
      #expect(decoded.contains("name") && decoded.contains("is not a name"), "\(decoded)")

      // Over the size limit, whole or once inflated; gzip read.
      let large = try await connect(#"printf '{"name": "%04096d"}' 0"#)
      #expect(try Self.json(large)["code"] as? String == "resource_exhausted", "\(large)")
      let inflated = try await connect(
        #"printf '{"name": "%04096d"}' 0 | gzip"#,
        ["content-encoding: gzip"]
      )
      #expect(try Self.json(inflated)["code"] as? String == "resource_exhausted", "\(inflated)")
      let gzipped = try await connect(
        #"printf '{"name": "x"}' | gzip"#,
        ["content-encoding: gzip", "x-request-id: web-2"]
      )
      #expect(try Self.json(gzipped)["message"] as? String == "web-2", "\(gzipped)")

      // Protobuf bodies: Connect's application/proto, and gRPC-Web text (base64 frames).
      let proto = try await Self.post(
        port,
        http2: http2,
        type: "application/proto",
        headers: ["x-request-id: web-3"],
        body: #"printf '\n\001x'"#
      )
      #expect(proto.contains("content-type: application/proto") && proto.contains("web-3"))
      let text = try await Self.post(
        port,
        http2: http2,
        type: "application/grpc-web-text",
        headers: ["x-request-id: web-4"],
        body: #"printf '\000\000\000\000\003\n\001x' | base64"#
      )
      let start = try #require(text.range(of: "\r\n\r\n")?.upperBound, "\(text)")
      let frames = Data(base64Encoded: String(text[start...])) ?? Data()
      let answer = String(decoding: frames, as: UTF8.self)
      #expect(answer.contains("web-4") && answer.contains("grpc-status:0"), "\(answer)")
    }
  }
}
