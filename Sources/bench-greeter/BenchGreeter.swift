import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import Logging
import ServiceLifecycle
import SuiteKit
import SuiteRPC
import SuiteTransport
import SwiftProtobuf
import UnixSignals

import class Foundation.FileManager
import class Foundation.ProcessInfo
import struct Foundation.URL
import func Foundation.exit

/// `bench.v1.Greeter` for `make bench`, served two ways on the same RPC as the grpc C++
/// reference:
///
///     bench-greeter bare PORT READY_FILE      grpc-swift-2 with its defaults
///     bench-greeter runtime                   the suite's server (SuiteRPC: limits,
///                                             interceptors, health) configured like a service,
///                                             from GRPC_PORT, READY_FILE, ...
@main
enum BenchGreeter {
  static func main() async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    switch arguments.first {
    case "bare" where arguments.count == 3:
      guard let port = Int(arguments[1]) else { usage() }
      do {
        try await serveBare(port: port, readyFile: arguments[2])
      } catch {
        print("bench-greeter: \(error)")
        exit(1)
      }
    case "runtime":
      await ServiceMain.run("bench-greeter", grpcPort: 7199) { reader, logger in
        // No database: the server settings, credential and ready file as every service reads them.
        let server = GRPCServerService(
          settings: try ServerSettings(config: reader, defaultPort: 7199),
          services: .init(open: [Greeter()], internal: [], names: ["bench.v1.Greeter"]),
          internalCredential: try reader.required("INTERNAL_CREDENTIAL"),
          health: HealthStatusBoard(),
          logger: logger,
          readyFile: reader.optional("READY_FILE")
        )
        let group = ServiceGroup(
          configuration: .init(
            services: [
              .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
          )
        )
        try await group.run()
      }
    default:
      usage()
    }
  }

  static func usage() -> Never {
    print("usage: bench-greeter bare PORT READY_FILE | bench-greeter runtime")
    exit(2)
  }

  static func serveBare(port: Int, readyFile: String) async throws {
    // BENCH_FLUSH_DELAY_US: the transport's flush coalescing delay (0 turns it off; unset keeps
    // grpc-swift's default of 100 µs) — for measuring what it costs and brings.
    let delay = ProcessInfo.processInfo.environment["BENCH_FLUSH_DELAY_US"].flatMap(Int.init)
    let server = GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: "127.0.0.1", port: port),
        transportSecurity: .plaintext,
        config: .defaults { config in
          if let delay {
            config.connection.flushCoalescing =
              delay == 0 ? nil : .init(maxFlushDelay: .microseconds(delay), maxBytes: 64 * 1024)
          }
        }
      ),
      services: [Greeter()]
    )
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask { try await server.serve() }
      if let address = try await server.listeningAddress?.ipv4 {
        try ReadyFile.write(readyFile, endpoint: "\(address.host):\(address.port)")
      }
    }
  }
}

/// The RPC: "hello " + name, nothing else.
struct Greeter: Bench_V1_Greeter.SimpleServiceProtocol {
  func sayHello(
    request: Bench_V1_HelloRequest,
    context: ServerContext
  ) async throws -> Bench_V1_HelloReply {
    .with { $0.message = "hello " + request.name }
  }
}
