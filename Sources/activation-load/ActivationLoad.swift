import AsyncHTTPClient
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SwiftProtobuf

/// Drives bind-path activations through the gateway's public API, several at once, and prints
/// throughput and latencies as one line of JSON (for `make bench`).
///
///     activation-load GATEWAY BILLING CONSOLE EMULATOR_URL CREDENTIAL ACTIVATIONS [CONCURRENCY]
///     activation-load register GATEWAY EMULATOR_URL REGISTRATIONS CONCURRENCY FLOOD
///
/// (The second: register-path activations, `RegisterLoad`.)
///
/// Before the clock starts it sets up what the bind path needs: one billing center account
/// and, per activation, a workspace bound to it (each its own: a workspace paid through one
/// active marketplace subscription is refused to another), a purchaser linked to that account
/// and a marketplace purchase. Timed, per activation: ResolveActivation with the purchase's
/// token, then BindWorkspace with its workspace; it counts only replies in state ACTIVATED.
@main
enum ActivationLoad {
  struct Addresses {
    var gateway: (String, Int)
    var billing: (String, Int)
    var console: (String, Int)
    var emulator: String
  }

  static func main() async {
    let arguments = CommandLine.arguments.dropFirst().map { $0 }
    if arguments.first == "register" {
      await RegisterLoad.main(Array(arguments.dropFirst()))
      return
    }
    guard arguments.count >= 6, let activations = Int(arguments[5]), activations > 0,
      let gateway = hostPort(arguments[0]), let billing = hostPort(arguments[1]),
      let console = hostPort(arguments[2])
    else {
      FileHandle.standardError.write(
        Data(
          "usage: activation-load GATEWAY BILLING CONSOLE EMULATOR_URL CREDENTIAL ACTIVATIONS [CONCURRENCY]\n"
            .utf8
        )
      )
      exit(2)
    }
    let concurrency = arguments.count > 6 ? max(1, Int(arguments[6]) ?? 16) : 16
    // The load shares the machine with what it measures: it takes EVENT_LOOP_THREADS as the
    // services do, before anything starts the shared event loops.
    if let threads = ProcessInfo.processInfo.environment["EVENT_LOOP_THREADS"].flatMap({ Int($0) }),
      threads > 0
    {
      NIOSingletons.groupLoopCountSuggestion = threads
    }
    do {
      let report = try await run(
        Addresses(gateway: gateway, billing: billing, console: console, emulator: arguments[3]),
        credential: arguments[4],
        activations: activations,
        concurrency: concurrency
      )
      print(report)
    } catch {
      FileHandle.standardError.write(Data("activation-load failed: \(error)\n".utf8))
      exit(1)
    }
  }

  static func hostPort(_ text: String) -> (String, Int)? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]) else { return nil }
    return (String(parts[0]), port)
  }

  static func transport(_ address: (String, Int)) throws -> HTTP2ClientTransport.Posix {
    try .http2NIOPosix(
      target: .ipv4(address: address.0, port: address.1),
      transportSecurity: .plaintext
    )
  }

  static func run(
    _ addresses: Addresses,
    credential: String,
    activations: Int,
    concurrency: Int
  ) async throws
    -> String
  {
    try await withGRPCClient(transport: transport(addresses.gateway)) { gatewayClient in
      try await withGRPCClient(transport: transport(addresses.billing)) { billingClient in
        try await withGRPCClient(transport: transport(addresses.console)) { consoleClient in
          let setup = try await prepare(
            addresses,
            billing: billingClient,
            console: consoleClient,
            credential: credential,
            activations: activations
          )
          return try await measure(
            Guance_Gateway_V1_ActivationService.Client(wrapping: gatewayClient),
            address: addresses.gateway,
            setup: setup,
            concurrency: concurrency
          )
        }
      }
    }
  }

  /// Every bench account's password (the billing center's and the gateway's register paths).
  static let password = "correct horse battery staple"

  struct Setup {
    var workspaces: [String]
    var tokens: [String]
  }

  /// Everything the timed part needs, made through the services' own APIs.
  static func prepare(
    _ addresses: Addresses,
    billing billingClient: GRPCClient<HTTP2ClientTransport.Posix>,
    console consoleClient: GRPCClient<HTTP2ClientTransport.Posix>,
    credential: String,
    activations: Int
  ) async throws -> Setup {
    let run = UUID().uuidString.prefix(8).lowercased()
    let password = Self.password
    let credentialMetadata: Metadata = ["authorization": "Bearer \(credential)"]
    let billing = Guance_Billing_V1_BillingCenterService.Client(wrapping: billingClient)
    let links = Guance_Billing_V1_BillingInternalService.Client(wrapping: billingClient)
    let console = Guance_Console_V1_WorkspaceConsoleService.Client(wrapping: consoleClient)

    let account = try await billing.registerBillingAccount(
      .with {
        $0.username = "load-\(run)"
        $0.password = password
        $0.email = "load-\(run)@bench.example"
        $0.company = .with {
          $0.companyName = "Bench"
          $0.industry = "Software"
          $0.region = "EU"
          $0.contactName = "Ben"
        }
      }
    ).billingAccount
    // Every purchase comes from its own purchaser (as in life: one customer, one cloud
    // account), each already linked to the billing account.
    let purchasers = try await fanOut(activations, workers: 8) { _ in
      let purchaser = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
      _ = try await links.linkCloudAccount(
        .with {
          $0.billingAccountID = account.id
          $0.identity = .with {
            $0.provider = .azure
            $0.tenantID = purchaser.0
            $0.objectID = purchaser.1
          }
        },
        metadata: credentialMetadata
      )
      return purchaser
    }
    // Eight at a time: each registration hashes a password, and the console queues only so
    // many hashes before it answers RESOURCE_EXHAUSTED.
    let workspaces = try await fanOut(activations, workers: 8) { index in
      let workspace = try await console.registerAndCreateWorkspace(
        .with {
          $0.workspaceName = "Bench \(index)"
          $0.language = "en"
          $0.site = "us1"
          $0.username = "load-\(run)-\(index)"
          $0.password = password
          $0.passwordConfirmation = password
          $0.email = "load-\(run)-\(index)@bench.example"
          $0.termsAccepted = true
        }
      ).workspace
      _ = try await billing.bindWorkspace(
        .with {
          $0.billingAccountID = account.id
          $0.workspaceID = workspace.id
          $0.settlement = .with { $0.method = .billingAccount }
        },
        metadata: credentialMetadata
      )
      return workspace.id
    }

    let tokens = try await fanOut(activations, workers: 16) { index in
      try await purchase(at: addresses.emulator, by: purchasers[index])
    }
    return Setup(workspaces: workspaces, tokens: tokens)
  }

  /// A purchase at the emulated marketplace by `purchaser` (tenant, object id); its landing token.
  static func purchase(at emulator: String, by purchaser: (String, String)) async throws -> String {
    let purchase =
      #"{"purchaser": {"emailId": "load@bench.example", "objectId": "\#(purchaser.1)", "tenantId": "\#(purchaser.0)", "puid": ""}}"#
    var request = HTTPClientRequest(url: "\(emulator)/admin/purchases")
    request.method = .POST
    request.headers.add(name: "content-type", value: "application/json")
    request.body = .bytes(ByteBuffer(string: purchase))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 1 << 20)
    guard response.status == .created || response.status == .ok,
      let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
      let token = json["token"] as? String
    else { throw LoadError.purchaseFailed(Int(response.status.code)) }
    return token
  }

  /// `work(index)` for each index below `count`, `workers` at a time (each worker takes every
  /// `workers`-th index), the results in index order.
  static func fanOut<Result: Sendable>(
    _ count: Int,
    workers: Int,
    _ work: @escaping @Sendable (Int) async throws -> Result
  ) async throws -> [Result] {
    try await withThrowingTaskGroup(of: [(Int, Result)].self) { group in
      for worker in 0..<workers {
        group.addTask {
          var mine: [(Int, Result)] = []
          for index in stride(from: worker, to: count, by: workers) {
            mine.append((index, try await work(index)))
          }
          return mine
        }
      }
      return try await group.reduce(into: [(Int, Result)]()) { $0 += $1 }
        .sorted { $0.0 < $1.0 }.map(\.1)
    }
  }

  /// Runs the timed part and reports it. With `ACTIVATION_DRIVER` (the path of
  /// bench/activation/driver.cc built) the activations are driven by that C++ client, which
  /// takes a fraction of the CPU a Swift client does; its CPU counts as the load's own.
  static func measure(
    _ gateway: Guance_Gateway_V1_ActivationService.Client<HTTP2ClientTransport.Posix>,
    address: (String, Int),
    setup: Setup,
    concurrency: Int
  ) async throws -> String {
    let watched = ProcessCPU.watched()
    let cpuBefore = watched.map(ProcessCPU.ticks)
    let started = ContinuousClock.now
    var run: Run
    if let driver = ProcessInfo.processInfo.environment["ACTIVATION_DRIVER"], !driver.isEmpty {
      run = try drive(driver, address: address, setup: setup, concurrency: concurrency)
    } else {
      run = try await drive(gateway, setup: setup, concurrency: concurrency)
      run.seconds = milliseconds(started.duration(to: .now)) / 1000
    }
    let cpuAfter = watched.map(ProcessCPU.ticks)
    var cpu: [String] = []
    for (index, process) in watched.enumerated() {
      var ms = Double(cpuAfter[index] - cpuBefore[index]) * 1000 / ProcessCPU.ticksPerSecond
      if index == watched.count - 1 { ms += run.driverCPUMilliseconds }
      cpu.append(String(format: #""%@": %.3f"#, process.name, ms / Double(run.samples.count)))
    }
    let total = run.samples.map(\.0).sorted()
    let resolve = run.samples.map(\.1).sorted()
    let bind = run.samples.map { $0.0 - $0.1 }.sorted()
    return String(
      format:
        #"{"activations": %d, "seconds": %.3f, "activations_per_second": %.1f, "p50_ms": %.2f, "p99_ms": %.2f, "resolve_p50_ms": %.2f, "resolve_p99_ms": %.2f, "bind_p50_ms": %.2f, "bind_p99_ms": %.2f, "concurrency": %d, "driver": "%@", "cpu_ms_per_activation": {%@}}"#,
      total.count,
      run.seconds,
      Double(total.count) / run.seconds,
      percentile(total, 0.5),
      percentile(total, 0.99),
      percentile(resolve, 0.5),
      percentile(resolve, 0.99),
      percentile(bind, 0.5),
      percentile(bind, 0.99),
      concurrency,
      run.driverCPUMilliseconds > 0 ? "grpc C++" : "grpc-swift",
      cpu.joined(separator: ", ")
    )
  }

  /// The timed part's outcome: per activation (total ms, ResolveActivation ms).
  struct Run {
    var samples: [(Double, Double)]
    var seconds: Double
    var driverCPUMilliseconds: Double
  }

  static func drive(
    _ gateway: Guance_Gateway_V1_ActivationService.Client<HTTP2ClientTransport.Posix>,
    setup: Setup,
    concurrency: Int
  ) async throws -> Run {
    var callOptions = CallOptions.defaults
    callOptions.timeout = .seconds(30)
    let options = callOptions
    let samples = try await fanOut(setup.tokens.count, workers: concurrency) { index in
      let sent = ContinuousClock.now
      let session = try await gateway.resolveActivation(
        .with { $0.marketplaceToken = setup.tokens[index] },
        options: options
      ).activation.sessionID
      let resolved = ContinuousClock.now
      let activation = try await gateway.bindWorkspace(
        .with {
          $0.sessionID = session
          $0.workspaceID = setup.workspaces[index]
        },
        options: options
      ).activation
      guard activation.state == .activated else {
        throw LoadError.notActivated(activation.state.rawValue, activation.activationProblem)
      }
      return (milliseconds(sent.duration(to: .now)), milliseconds(sent.duration(to: resolved)))
    }
    return Run(samples: samples, seconds: 0, driverCPUMilliseconds: 0)
  }

  /// The same activations through the C++ driver: one "TOKEN WORKSPACE" line per activation in
  /// on its standard input, one line per activation and a summary out.
  static func drive(
    _ driver: String,
    address: (String, Int),
    setup: Setup,
    concurrency: Int
  ) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: driver)
    process.arguments = ["\(address.0):\(address.1)", String(concurrency)]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // The driver reads all of its input before it starts, and writes only when done.
    let lines = zip(setup.tokens, setup.workspaces).map { "\($0) \($1)" }
    input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    try input.fileHandleForWriting.close()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw LoadError.driverFailed(process.terminationStatus)
    }
    var run = Run(samples: [], seconds: 0, driverCPUMilliseconds: 0)
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      if fields.first == "done", fields.count == 3, let seconds = Double(fields[1]),
        let cpu = Double(fields[2])
      {
        run.seconds = seconds
        run.driverCPUMilliseconds = cpu
      } else if fields.count == 2, let total = Double(fields[0]), let resolve = Double(fields[1]) {
        run.samples.append((total, resolve))
      }
    }
    guard run.samples.count == setup.tokens.count, run.seconds > 0 else {
      throw LoadError.driverFailed(-1)
    }
    return run
  }

  /// The `p` quantile of sorted `values` (nearest rank); 0 for none.
  static func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    return values[min(values.count - 1, max(0, Int((Double(values.count) * p).rounded(.up)) - 1))]
  }

  static func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
  }

  enum LoadError: Error {
    case purchaseFailed(Int)
    case notActivated(Int, String)
    /// The C++ driver failed (its exit status; -1: its report was incomplete).
    case driverFailed(Int32)
  }
}

/// CPU time of the suite's processes from /proc, named in `ACTIVATION_LOAD_PROCESSES`
/// (`name=pid,...`); a process's children count as its own (PostgreSQL's backends).
enum ProcessCPU {
  struct Watched {
    var name: String
    var pid: Int32
  }

  static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

  /// The named processes, and this one: the load's own CPU comes out of the same cores.
  static func watched() -> [Watched] {
    let spec = ProcessInfo.processInfo.environment["ACTIVATION_LOAD_PROCESSES"] ?? ""
    let named = spec.split(separator: ",").compactMap { entry -> Watched? in
      let parts = entry.split(separator: "=")
      guard parts.count == 2, let pid = Int32(parts[1]) else { return nil }
      return Watched(name: String(parts[0]), pid: pid)
    }
    return named + [Watched(name: "activation-load", pid: getpid())]
  }

  /// User and system ticks of `process` and its direct children.
  static func ticks(_ process: Watched) -> Int {
    let all = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var total = 0
    for entry in all {
      guard let pid = Int32(entry),
        let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
      else { continue }
      // Fields after "(comm)": state ppid ... utime(14) stime(15), counted from 1 overall.
      let fields = stat[stat.index(after: close)...].split(separator: " ")
      guard fields.count > 13, let parent = Int32(fields[1]),
        pid == process.pid || parent == process.pid,
        let user = Int(fields[11]), let system = Int(fields[12])
      else { continue }
      total += user + system
    }
    return total
  }
}
