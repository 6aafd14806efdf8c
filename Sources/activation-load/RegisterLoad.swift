import AccountKit
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GuanceContracts
import SwiftProtobuf

/// Register-path activations: a new buyer's `ResolveActivation`, then `RegisterAndActivate`,
/// which hashes the new password twice (the billing center account's and the Guance
/// account's, each in its own service). Password hashing bounds this path, so its throughput is
/// judged against the hashing ceiling measured in the same run: cores ÷ (2 × one hash's time on
/// one core, with the services' parameters). Then a flood: `FLOOD` buyers' pages open, then all
/// register at once, far beyond what the services hash at once; the excess must be refused
/// with RESOURCE_EXHAUSTED at once, not queued. One line of JSON out.
///
///     activation-load register GATEWAY EMULATOR_URL REGISTRATIONS CONCURRENCY FLOOD
enum RegisterLoad {
  static func main(_ arguments: [String]) async {
    guard arguments.count == 5, let gateway = ActivationLoad.hostPort(arguments[0]),
      let registrations = Int(arguments[2]), registrations > 0,
      let concurrency = Int(arguments[3]), concurrency > 0,
      let flood = Int(arguments[4]), flood >= 0
    else {
      FileHandle.standardError.write(
        Data(
          "usage: activation-load register GATEWAY EMULATOR_URL REGISTRATIONS CONCURRENCY FLOOD\n"
            .utf8
        )
      )
      exit(2)
    }
    do {
      print(
        try await run(
          gateway: gateway,
          emulator: arguments[1],
          registrations: registrations,
          concurrency: concurrency,
          flood: flood
        )
      )
    } catch {
      FileHandle.standardError.write(Data("activation-load register failed: \(error)\n".utf8))
      exit(1)
    }
  }

  /// One hash's time on one core, with the parameters the services use (the defaults), before
  /// any load: the median of nine.
  static func hashMilliseconds() async throws -> Double {
    let hasher = PasswordHasher(workers: 1, maxQueued: 0)
    _ = try await hasher.hash("warm-up")
    var times: [Double] = []
    for round in 0..<9 {
      let started = ContinuousClock.now
      _ = try await hasher.hash("calibration \(round)")
      times.append(ActivationLoad.milliseconds(started.duration(to: .now)))
    }
    return times.sorted()[times.count / 2]
  }

  /// What became of one registration: its latency, and whether it was refused as overload.
  struct Outcome: Sendable {
    var milliseconds: Double
    var shed: Bool
  }

  static func run(
    gateway address: (String, Int),
    emulator: String,
    registrations: Int,
    concurrency: Int,
    flood: Int
  ) async throws -> String {
    let hash = try await hashMilliseconds()
    let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
    let ceiling = cores / (2 * hash / 1000)
    // Every registration is a new buyer: a purchaser the gateway has never seen.
    let tokens = try await ActivationLoad.fanOut(registrations + flood, workers: 16) { _ in
      try await ActivationLoad.purchase(
        at: emulator,
        by: (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
      )
    }
    let run = UUID().uuidString.prefix(8).lowercased()
    return try await withGRPCClient(transport: ActivationLoad.transport(address)) { client in
      let gateway = Guance_Gateway_V1_ActivationService.Client(wrapping: client)
      let watched = ProcessCPU.watched()
      let cpuBefore = watched.map(ProcessCPU.ticks)
      let started = ContinuousClock.now
      let timed = try await ActivationLoad.fanOut(registrations, workers: concurrency) { index in
        let sent = ContinuousClock.now
        let session = try await resolve(gateway, token: tokens[index])
        var outcome = try await register(gateway, session: session, name: "\(run)-\(index)")
        outcome.milliseconds = ActivationLoad.milliseconds(sent.duration(to: .now))
        return outcome
      }
      let seconds = ActivationLoad.milliseconds(started.duration(to: .now)) / 1000
      let cpuAfter = watched.map(ProcessCPU.ticks)
      guard timed.allSatisfy({ !$0.shed }) else {
        throw ActivationLoad.LoadError.notActivated(-1, "refused as overloaded below the flood")
      }
      // The flood's buyers have all opened their pages (sessions resolved, not timed), then
      // all press "Register" at once: each call is timed from its own sending.
      let sessions = try await ActivationLoad.fanOut(flood, workers: 16) { index in
        try await resolve(gateway, token: tokens[registrations + index])
      }
      let flooded = try await ActivationLoad.fanOut(flood, workers: max(flood, 1)) { index in
        try await register(gateway, session: sessions[index], name: "\(run)-flood-\(index)")
      }
      let latencies = timed.map(\.milliseconds).sorted()
      let shed = flooded.filter(\.shed).map(\.milliseconds).sorted()
      let served = flooded.filter { !$0.shed }.map(\.milliseconds).sorted()
      var cpu: [String] = []
      for (index, process) in watched.enumerated() {
        let ms = Double(cpuAfter[index] - cpuBefore[index]) * 1000 / ProcessCPU.ticksPerSecond
        cpu.append(String(format: #""%@": %.2f"#, process.name, ms / Double(registrations)))
      }
      let rate = Double(registrations) / seconds
      return String(
        format:
          #"{"registrations": %d, "seconds": %.3f, "registrations_per_second": %.2f, "hash_ms": %.2f, "cores": %.0f, "ceiling_per_second": %.2f, "of_ceiling": %.2f, "p50_ms": %.1f, "p99_ms": %.1f, "concurrency": %d, "flood": %d, "flood_shed": %d, "flood_shed_p50_ms": %.1f, "flood_shed_p99_ms": %.1f, "flood_shed_max_ms": %.1f, "flood_served": %d, "flood_served_p99_ms": %.1f, "cpu_ms_per_registration": {%@}}"#,
        registrations,
        seconds,
        rate,
        hash,
        cores,
        ceiling,
        rate / ceiling,
        ActivationLoad.percentile(latencies, 0.5),
        ActivationLoad.percentile(latencies, 0.99),
        concurrency,
        flood,
        shed.count,
        ActivationLoad.percentile(shed, 0.5),
        ActivationLoad.percentile(shed, 0.99),
        shed.last ?? 0,
        served.count,
        ActivationLoad.percentile(served, 0.99),
        cpu.joined(separator: ", ")
      )
    }
  }

  static let options: CallOptions = {
    var options = CallOptions.defaults
    options.timeout = .seconds(60)
    return options
  }()

  /// A buyer's page opened: the purchase's landing token resolved into a session.
  static func resolve(
    _ gateway: Guance_Gateway_V1_ActivationService.Client<HTTP2ClientTransport.Posix>,
    token: String
  ) async throws -> String {
    try await gateway.resolveActivation(
      .with { $0.marketplaceToken = token },
      options: options
    ).activation.sessionID
  }

  /// A buyer's registration, timed: activated, or refused as overloaded (RESOURCE_EXHAUSTED);
  /// anything else fails the run.
  static func register(
    _ gateway: Guance_Gateway_V1_ActivationService.Client<HTTP2ClientTransport.Posix>,
    session: String,
    name: String
  ) async throws -> Outcome {
    let password = ActivationLoad.password
    let sent = ContinuousClock.now
    do {
      let activation = try await gateway.registerAndActivate(
        .with {
          $0.sessionID = session
          $0.basic = .with {
            $0.username = "reg-\(name)"
            $0.password = password
            $0.passwordConfirmation = password
            $0.email = "reg-\(name)@bench.example"
          }
          $0.company = .with {
            $0.companyName = "Bench"
            $0.industry = "Software"
            $0.region = "EU"
            $0.contactName = "Ben"
          }
          $0.workspace = .with {
            $0.name = "Bench \(name)"
            $0.language = "en"
            $0.site = "us1"
          }
          $0.termsAccepted = true
        },
        options: options
      ).activation
      guard activation.state == .activated else {
        throw ActivationLoad.LoadError.notActivated(
          activation.state.rawValue,
          activation.activationProblem
        )
      }
      return Outcome(
        milliseconds: ActivationLoad.milliseconds(sent.duration(to: .now)),
        shed: false
      )
    } catch let error as RPCError where error.code == .resourceExhausted {
      return Outcome(milliseconds: ActivationLoad.milliseconds(sent.duration(to: .now)), shed: true)
    }
  }
}
