import Foundation
import GRPCCore
import GuanceContracts
import SuiteTesting
import SwiftProtobuf
import Testing

/// What operators and frontend developers see of the running suite: each process's `/metrics`
/// (checked by Prometheus's own `promtool`), request ids carried from one service to the next,
/// and server reflection as `buf curl` and grpcio's reflection client use it.
@Suite("Operating the suite: metrics, request ids, reflection", .startsServices)
struct OperatorSurfaceTests {
  @Test(
    "after an activation every process's /metrics passes promtool and counts the RPCs, the pool, the backlogs and the process"
  )
  func metrics() async throws {
    try await SuiteHarness.with { suite in
      _ = try await suite.activatedSubscription(username: "metered")
      let processes = [
        ("gateway", suite.gateway), ("billing", suite.billing), ("console", suite.console),
        ("emulator", suite.emulator.process),
      ]
      var scraped: [String: String] = [:]
      for (name, process) in processes {
        let text = try await Self.scrape(process)
        let check = try await Self.promtool(text)
        #expect(check.status == 0, "\(name): promtool check metrics: \(check.output)")
        #expect(check.output.isEmpty, "\(name): promtool found: \(check.output)")
        #expect(text.contains("\nprocess_resident_memory_bytes "), "\(name)")
        #expect(text.contains("\nprocess_cpu_seconds_total "), "\(name)")
        scraped[name] = text
      }
      let gateway = try #require(scraped["gateway"])
      #expect(
        gateway.contains(
          #"grpc_server_handled_total{grpc_service="guance.gateway.v1.ActivationService",grpc_method="RegisterAndActivate",grpc_code="OK"} 1"#
        ),
        "\(gateway)"
      )
      #expect(gateway.contains(#"grpc_server_handling_seconds_bucket{"#))
      #expect(
        gateway.contains(
          #"grpc_client_handled_total{grpc_service="guance.billing.v1.BillingInternalService""#
        )
      )
      #expect(gateway.contains("\npostgres_pool_connections_max 20"))
      #expect(gateway.contains("\npostgres_operations_in_flight "))
      // Read from the database at the scrape: the activation's saga is done.
      #expect(gateway.contains("\nactivation_sagas_pending 0"))
      #expect(gateway.contains("\nlifecycle_operations_pending 0"))
      #expect(try #require(scraped["billing"]).contains("\nmetering_records_pending 0"))
      #expect(try #require(scraped["billing"]).contains("\nmail_outbox_pending "))
      #expect(try #require(scraped["console"]).contains("\nmail_outbox_pending "))
      #expect(
        try #require(scraped["console"]).contains(
          #"grpc_server_handled_total{grpc_service="guance.console.v1.WorkspaceDirectoryService""#
        )
      )
      // Off the public port: the gRPC port does not answer /metrics.
      let onGRPCPort = try await Command.run(
        "/usr/bin/curl",
        ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://\(suite.gateway.address)/metrics"]
      )
      #expect(onGRPCPort.output != "200")
    }
  }

  @Test("a request id given to the gateway reaches the billing center's log of the call it made")
  func requestIDCarried() async throws {
    try await SuiteHarness.with { suite in
      _ = try await suite.activatedSubscription(username: "carried")
      let second = try await suite.purchaseAndResolve(
        purchaser: (UUID().uuidString, UUID().uuidString)
      )
      let requestID = "operator-trace-\(UUID().uuidString.prefix(8))"
      // The username is taken: the billing center refuses the registration the gateway asks
      // of it, and logs the refusal under the request id it was given.
      let refused = await #expect(throws: RPCError.self) {
        try await suite.activation { client in
          try await client.registerAndActivate(
            SuiteHarness.registration(
              session: second.activation.sessionID,
              username: "carried"
            ),
            metadata: ["x-request-id": .string(requestID)]
          )
        }
      }
      #expect(refused?.code == .alreadyExists)
      let logged = try await suite.eventually {
        suite.billing.log.split(separator: "\n").contains {
          $0.contains("rpc failed") && $0.contains("request-id=\(requestID)")
            && $0.contains("warning")
        }
      }
      #expect(logged, "billing-center's log:\n\(suite.billing.log)")
    }
  }

  @Test(
    "reflection lists every method each service serves, to buf curl (v1 and v1alpha) and to grpcio's reflection client"
  )
  func reflection() async throws {
    try await SuiteHarness.with { suite in
      let python = try ProjectPython.interpreter()
      let buf = URL(fileURLWithPath: python).deletingLastPathComponent()
        .appendingPathComponent("buf").path
      let always =
        [Grpc_Health_V1_Health.Method.descriptors].flatMap { $0 }.map(\.fullyQualifiedMethod)
        + [
          "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ]
      let expected: [(ServiceProcess, [MethodDescriptor])] = [
        (
          suite.gateway,
          Guance_Gateway_V1_ActivationService.Method.descriptors
            + Guance_Gateway_V1_GatewayAdminService.Method.descriptors
        ),
        (
          suite.billing,
          Guance_Billing_V1_BillingCenterService.Method.descriptors
            + Guance_Billing_V1_BillingInternalService.Method.descriptors
        ),
        (
          suite.console,
          Guance_Console_V1_WorkspaceConsoleService.Method.descriptors
            + Guance_Console_V1_WorkspaceDirectoryService.Method.descriptors
        ),
      ]
      for (process, methods) in expected {
        let wanted = Set(methods.map(\.fullyQualifiedMethod) + always)
        for version in ["grpc-v1", "grpc-v1alpha"] {
          let listed = try await Command.run(
            buf,
            [
              "curl", "--list-methods", "--protocol", "grpc", "--http2-prior-knowledge",
              "--reflect-protocol", version, "http://\(process.address)",
            ],
            mergingErrors: true
          )
          #expect(listed.status == 0, "\(process.name): \(listed.output)")
          #expect(Self.lines(listed.output) == wanted, "\(process.name) over \(version)")
        }
        let grpcio = try await Command.run(
          python,
          [ProjectPython.packageFile("Tests/Support/reflection_client.py"), process.address],
          mergingErrors: true
        )
        #expect(grpcio.status == 0, "\(process.name): \(grpcio.output)")
        #expect(Self.lines(grpcio.output) == wanted, "\(process.name) through grpcio")
      }
      // A call described by reflection alone: buf has no proto files here.
      let sites = try await Command.run(
        buf,
        [
          "curl", "--protocol", "grpc", "--http2-prior-knowledge", "-d", "{}",
          "http://\(suite.console.address)/guance.console.v1.WorkspaceConsoleService/ListSites",
        ],
        mergingErrors: true
      )
      #expect(sites.status == 0, "\(sites.output)")
      #expect(sites.output.contains(#""sites""#), "\(sites.output)")
    }
  }

  @Test(
    "with an OTLP collector named, one activation is one trace across gateway, billing-center, workspace-console and the marketplace call"
  )
  func traces() async throws {
    let work = FileManager.default.temporaryDirectory.appendingPathComponent(
      "otlp-\(UUID().uuidString)"
    )
    try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: work) }
    let portFile = work.appendingPathComponent("port")
    let spansFile = work.appendingPathComponent("spans.jsonl")
    let receiver = Process()
    receiver.executableURL = URL(fileURLWithPath: try ProjectPython.interpreter())
    receiver.arguments = [
      ProjectPython.packageFile("Tests/Support/otlp_receiver.py"), portFile.path, spansFile.path,
    ]
    // Its output goes to a file: a child holding the test's own output open would keep
    // `swift test` waiting for it.
    let receiverLog = work.appendingPathComponent("receiver.log")
    FileManager.default.createFile(atPath: receiverLog.path, contents: nil)
    receiver.standardOutput = try FileHandle(forWritingTo: receiverLog)
    receiver.standardError = try FileHandle(forWritingTo: receiverLog)
    try receiver.run()
    defer { receiver.terminate() }
    #expect(try await eventually { FileManager.default.fileExists(atPath: portFile.path) })
    let port = try String(contentsOf: portFile, encoding: .utf8)
    let collector = [
      "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(port)",
      "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
      // Spans leave within a fifth of a second rather than the default five.
      "OTEL_BSP_SCHEDULE_DELAY": "200",
    ]
    try await SuiteHarness.with(everyService: collector) { suite in
      _ = try await suite.activatedSubscription(username: "traced")
      var found: [[String: Any]] = []
      let whole = try await eventually {
        found = Self.spans(in: spansFile)
        guard
          let root = found.first(where: {
            $0["name"] as? String == "guance.gateway.v1.ActivationService/RegisterAndActivate"
              && $0["kind"] as? Int == 2
          }),
          let trace = root["trace_id"] as? String
        else { return false }
        let inTrace = found.filter { $0["trace_id"] as? String == trace }
        let services = Set(inTrace.compactMap { $0["service"] as? String })
        return services.isSuperset(of: [
          "marketplace-gateway", "billing-center", "workspace-console",
        ])
          && inTrace.contains { $0["name"] as? String == "marketplace POST" }
          && inTrace.contains {
            $0["service"] as? String == "workspace-console" && $0["kind"] as? Int == 2
          }
          // The gateway calls the billing center with a deadline, which its span records.
          && inTrace.contains {
            $0["service"] as? String == "billing-center" && $0["kind"] as? Int == 2
              && ($0["attributes"] as? [String: Any])?["rpc.grpc.request.metadata.grpc-timeout"]
                != nil
          }
          && inTrace.contains {
            ["SELECT", "INSERT", "UPDATE", "BEGIN"].contains($0["name"] as? String)
          }
      }
      #expect(
        whole,
        "spans received: \(found.map { "\($0["service"] ?? "") \($0["name"] ?? "")" })"
      )
      // A log line written while serving a traced RPC names its trace.
      await #expect(throws: RPCError.self) {
        try await suite.consoleClient { console in
          try await console.login(
            .with {
              $0.login = "traced"
              $0.password = "not the password"
            }
          )
        }
      }
      let failure = try await suite.eventually {
        suite.console.log.split(separator: "\n").contains {
          $0.contains("rpc failed") && $0.contains("trace_id=") && $0.contains("span_id=")
        }
      }
      #expect(failure, "workspace-console's log:\n\(suite.console.log)")
    }
  }

  /// The spans the receiver wrote so far (one JSON object per line).
  static func spans(in file: URL) -> [[String: Any]] {
    let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    return text.split(separator: "\n").compactMap {
      try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
  }

  static func lines(_ output: String) -> Set<String> {
    Set(
      output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
        !$0.isEmpty
      }
    )
  }

  /// The process's `/metrics`, once its operator port is up.
  static func scrape(_ process: ServiceProcess) async throws -> String {
    #expect(try await eventually { process.metricsAddress != nil }, "\(process.name): no metrics")
    let address = try #require(process.metricsAddress)
    let reply = try await Command.run(
      "/usr/bin/curl",
      ["-sS", "--fail", "http://\(address)/metrics"]
    )
    #expect(reply.status == 0, "\(process.name): curl \(address)/metrics")
    return reply.output
  }

  /// `promtool check metrics` of an exposition: what it finds (nothing when it is clean).
  static func promtool(_ exposition: String) async throws -> (status: Int32, output: String) {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "metrics-\(UUID().uuidString).txt"
    )
    try Data(exposition.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    return try await Command.run(
      "/bin/sh",
      ["-c", "promtool check metrics < '\(file.path)'"],
      mergingErrors: true
    )
  }
}
