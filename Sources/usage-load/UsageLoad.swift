import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import SwiftProtobuf

extension CallOptions {
  func with(timeout: Duration) -> CallOptions {
    var copy = self
    copy.timeout = timeout
    return copy
  }
}

/// Drives billing-center's RecordUsage with batches of fresh events, several at once, and
/// prints throughput and batch latencies as one line of JSON (for `make bench`).
///
///     usage-load HOST:PORT CREDENTIAL BATCHES [CONCURRENCY] [BATCH_SIZE]
@main
enum UsageLoad {
  static func main() async {
    let arguments = CommandLine.arguments.dropFirst().map { $0 }
    guard arguments.count >= 3, let batches = Int(arguments[2]), batches > 0 else {
      FileHandle.standardError.write(
        Data("usage: usage-load HOST:PORT CREDENTIAL BATCHES [CONCURRENCY] [BATCH_SIZE]\n".utf8)
      )
      exit(2)
    }
    let parts = arguments[0].split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]) else {
      FileHandle.standardError.write(Data("address must be host:port\n".utf8))
      exit(2)
    }
    let concurrency = arguments.count > 3 ? Int(arguments[3]) ?? 8 : 8
    let batchSize = arguments.count > 4 ? Int(arguments[4]) ?? 1000 : 1000
    do {
      let report = try await run(
        host: String(parts[0]),
        port: port,
        credential: arguments[1],
        batches: batches,
        concurrency: concurrency,
        batchSize: batchSize
      )
      print(report)
    } catch {
      FileHandle.standardError.write(Data("usage-load failed: \(error)\n".utf8))
      exit(1)
    }
  }

  static func run(
    host: String,
    port: Int,
    credential: String,
    batches: Int,
    concurrency: Int,
    batchSize: Int
  ) async throws -> String {
    let runID = UUID().uuidString.prefix(8)
    let workspaces = (0..<16).map { _ in UUID().uuidString.lowercased() }
    let items = ["log_events", "time_series", "trace_spans", "rum_page_views"]
    let metadata: Metadata = ["authorization": "Bearer \(credential)"]
    // Requests are built before the clock starts: the benchmark measures the service.
    let requests: [Guance_Billing_V1_RecordUsageRequest] = (0..<batches).map { batch in
      .with {
        $0.events = (0..<batchSize).map { index in
          .with {
            $0.idempotencyKey = "\(runID)-\(batch)-\(index)"
            $0.workspaceID = workspaces[index % workspaces.count]
            $0.billingItem = items[index % items.count]
            $0.quantity = "\(index % 97).25"
            $0.usageTime = Google_Protobuf_Timestamp(date: Date())
          }
        }
      }
    }
    return try await withGRPCClient(
      transport: .http2NIOPosix(
        target: .ipv4(address: host, port: port),
        transportSecurity: .plaintext
      )
    ) { client in
      let billing = Guance_Billing_V1_BillingInternalService.Client(wrapping: client)
      let options = CallOptions.defaults.with(timeout: .seconds(60))
      let started = ContinuousClock.now
      let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
        for worker in 0..<concurrency {
          group.addTask {
            var mine: [Double] = []
            for batch in stride(from: worker, to: batches, by: concurrency) {
              let sent = ContinuousClock.now
              let reply = try await billing.recordUsage(
                requests[batch],
                metadata: metadata,
                options: options
              )
              mine.append(milliseconds(sent.duration(to: .now)))
              guard reply.results.count == batchSize, reply.results.allSatisfy({ $0 == .accepted })
              else {
                throw LoadError.notAllAccepted(batch)
              }
            }
            return mine
          }
        }
        return try await group.reduce(into: [Double]()) { $0 += $1 }.sorted()
      }
      let elapsed = started.duration(to: .now)
      let seconds = milliseconds(elapsed) / 1000
      func percentile(_ p: Double) -> Double {
        latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)]
      }
      let events = batches * batchSize
      return String(
        format:
          #"{"events": %d, "seconds": %.3f, "events_per_second": %.0f, "batch_p50_ms": %.2f, "batch_p99_ms": %.2f, "concurrency": %d, "batch_size": %d}"#,
        events,
        seconds,
        Double(events) / seconds,
        percentile(0.5),
        percentile(0.99),
        concurrency,
        batchSize
      )
    }
  }

  static func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }

  enum LoadError: Error {
    case notAllAccepted(Int)
  }
}
