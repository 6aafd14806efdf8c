import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import SuiteKit
import SuiteTesting
import SuiteTransport
import SwiftProtobuf
import Synchronization
import Testing

@testable import SuiteRPC

/// How a service finds the replicas of another: every address of every name it is given, one
/// endpoint each, looked up again as time passes, and calls spread over them round robin.
@Suite("Addresses of another service")
struct ServiceAddressesTests {
  @Test("one or several host:port, anything else refused naming the variable")
  func parsing() throws {
    let two = try ServiceAddresses(
      "billing-0.billing:7102, 10.0.0.7:7102",
      variable: "BILLING_ADDRESS"
    )
    #expect(
      two.names == [
        .init(host: "billing-0.billing", port: 7102), .init(host: "10.0.0.7", port: 7102),
      ]
    )
    #expect(two.authority == "billing-0.billing")
    #expect(try ServiceAddresses("127.0.0.1:7101", variable: "CONSOLE_ADDRESS").authority == nil)
    for bad in ["console", "console:0", "console:7101,", ":7101", "a:1:2", "a:70000"] {
      #expect(throws: ConfigError.self, "\(bad)") {
        try ServiceAddresses(bad, variable: "CONSOLE_ADDRESS")
      }
    }
  }

  @Test(
    "every address of every name is an endpoint of its own; a later lookup that finds another set is passed on"
  )
  func updates() async throws {
    let answers = Mutex<[String: [String]]>([
      "replicas": ["10.0.0.1", "10.0.0.2"], "other": ["10.0.0.2"],
    ])
    let target = ServiceAddresses(
      names: [.init(host: "replicas", port: 7102), .init(host: "other", port: 7102)],
      refresh: .milliseconds(10)
    ) { name in
      let hosts = answers.withLock { $0[name.host] ?? [] }
      return hosts.map { .ipv4(host: $0, port: name.port) }
    }
    var updates = ServiceAddresses.Updates(target: target).makeAsyncIterator()
    let first = try #require(try await updates.next())
    #expect(first.endpoints == [["10.0.0.1"], ["10.0.0.2"]].map(Self.endpoint))

    // A replica is added behind the name: the next update has it (unchanged lookups in
    // between give no update).
    answers.withLock { $0["replicas"] = ["10.0.0.3", "10.0.0.1", "10.0.0.2"] }
    let second = try #require(try await updates.next())
    #expect(second.endpoints == [["10.0.0.1"], ["10.0.0.2"], ["10.0.0.3"]].map(Self.endpoint))

    // No name resolves: UNAVAILABLE naming them, so the channel keeps the last addresses.
    answers.withLock { $0 = [:] }
    do {
      _ = try await updates.next()
      Issue.record("a lookup with no address was passed on")
    } catch let error as RPCError {
      #expect(error.code == .unavailable)
      #expect(error.message.contains("replicas:7102"))
    }
  }

  static func endpoint(_ hosts: [String]) -> Endpoint {
    Endpoint(addresses: hosts.map { .ipv4(host: $0, port: 7102) })
  }

  @Test("a client given two servers' addresses calls both")
  func spreadsCalls() async throws {
    // Each server's health board knows only its own name: a check for "a" succeeds only on a.
    let boardA = HealthStatusBoard()
    boardA.set(.serving, for: ["a"])
    let boardB = HealthStatusBoard()
    boardB.set(.serving, for: ["b"])
    let settings = TestServer.settings(.suite)
    try await TestServer.withServer(settings, board: boardA) { portA, _ in
      try await TestServer.withServer(settings, board: boardB) { portB, _ in
        let transport = try GRPCClientService.transport(
          address: "127.0.0.1:\(portA),127.0.0.1:\(portB)",
          variable: "CONSOLE_ADDRESS"
        )
        try await withGRPCClient(transport: transport) { client in
          let health = Grpc_Health_V1_Health.Client(wrapping: client)
          var answeredBy: Set<String> = []
          // Until both have answered: round robin goes over the ready connections, and the
          // second may become ready a little after the first.
          let deadline = ContinuousClock.now + .testPatience
          while answeredBy.count < 2, ContinuousClock.now < deadline {
            do {
              _ = try await health.check(.with { $0.service = "a" })
              answeredBy.insert("a")
            } catch let error as RPCError where error.code == .notFound {
              answeredBy.insert("b")
            }
          }
          #expect(answeredBy == ["a", "b"])
        }
      }
    }
  }
}
