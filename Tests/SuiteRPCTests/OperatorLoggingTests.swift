import Foundation
import GRPCCore
import GuanceContracts
import Logging
import SuiteKit
import SuiteRPC
import SuiteTesting
import SwiftProtobuf
import Synchronization
import Testing

/// What operators read of an RPC: the request id carried to the services it calls, and
/// `LOG_FORMAT=json`'s one object per line.
@Suite("Request ids between services and JSON logs")
struct OperatorLoggingTests {
  @Test("a call made while serving an RPC carries its request id; one outside any RPC does not")
  func requestIDCarried() async throws {
    let board = HealthStatusBoard()
    board.set(.serving, for: [""])
    try await withInProcessServer(
      open: [HealthService(board: board)],
      clientInterceptors: [OutgoingCallInterceptor()]
    ) { client in
      let health = Grpc_Health_V1_Health.Client(wrapping: client)
      let echoed: @Sendable (Metadata) async throws -> String? = { metadata in
        try await health.check(.with { $0.service = "" }, metadata: metadata) {
          $0.metadata[stringValues: "x-request-id"].first { _ in true }
        }
      }
      let serving = RequestContext.serving("guance.test.v1.Outer/Call", requestID: "carried-1")
      // The server echoes the id it took for the call: the serving RPC's.
      #expect(
        try await RequestContext.$current.withValue(serving) { try await echoed([:]) }
          == "carried-1"
      )
      // A call naming its own id keeps it.
      #expect(
        try await RequestContext.$current.withValue(serving) {
          try await echoed(["x-request-id": "own-2"])
        } == "own-2"
      )
      // Outside any RPC (a background worker) the server makes one of its own.
      let background = try #require(try await echoed([:]))
      #expect(background != "carried-1" && !background.isEmpty)
    }
  }

  @Test("LOG_FORMAT=json writes one JSON object per line: time, level, logger, message, metadata")
  func jsonLines() throws {
    let lines = Mutex<[String]>([])
    var handler = JSONLogHandler(
      label: "workspace-console",
      metadataProvider: RequestContext.metadataProvider,
      write: { line in lines.withLock { $0.append(line) } }
    )
    handler.logLevel = .debug
    handler[metadataKey: "process"] = "p-1"
    let logger = Logger(label: "workspace-console") { _ in handler }
    let serving = RequestContext.serving(
      "guance.console.v1.WorkspaceConsoleService/Login",
      requestID: "req-7",
      logger: logger
    )
    RequestContext.$current.withValue(serving) {
      logger.warning(
        "rpc failed: \"quoted\"\nnext line \u{1}",
        metadata: ["grpc-code": "invalidArgument", "fields": ["a", "b"]]
      )
    }
    let written = lines.withLock { $0 }
    #expect(written.count == 1)
    let line = try #require(written.first)
    #expect(line.hasSuffix("}\n") && line.dropLast().allSatisfy { $0 != "\n" })
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    )
    #expect(object["level"] as? String == "warning")
    #expect(object["logger"] as? String == "workspace-console")
    #expect(object["message"] as? String == "rpc failed: \"quoted\"\nnext line \u{1}")
    #expect(object["request-id"] as? String == "req-7")
    #expect(object["rpc"] as? String == "guance.console.v1.WorkspaceConsoleService/Login")
    #expect(object["grpc-code"] as? String == "invalidArgument")
    #expect(object["fields"] as? [String] == ["a", "b"])
    #expect(object["process"] as? String == "p-1")
    let time = try #require(object["time"] as? String)
    let when = try Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time)
    #expect(abs(when.timeIntervalSinceNow) < 3600)
  }

  @Test("LOG_FORMAT takes text or json and names anything else")
  func logFormatRefused() {
    #expect(
      throws: ConfigError.invalid(variable: "LOG_FORMAT", value: "yaml", expected: "text or json")
    ) {
      try LoggingSetup.bootstrap(config: ConfigReader(environment: ["LOG_FORMAT": "yaml"]))
    }
  }
}
