import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import GuanceContracts
import SuiteErrors
import SuiteKit
import SuiteRPC
import SuiteTesting
import SuiteTransport
import SwiftProtobuf
import Synchronization
import Testing

/// Unary RPCs on the suite's transport skip GRPCCore's executor and interceptors
/// (`UnaryMethods`, `UnaryMethod`, the transport's `UnaryCall`) and must behave as they do.
/// Every case runs on the suite's transport and on grpc-swift's, where GRPCCore does the same
/// work, so the paths are compared.
@Suite("Unary RPCs past GRPCCore's executor")
struct UnaryPathTests {
  typealias Greeter = Bench_V1_Greeter.Client<HTTP2ClientTransport.Posix>

  /// The suite's transport with handlers on the event loop and on the pool, over both HTTP/2
  /// libraries, and grpc-swift's transport (GRPCCore's path) to compare with.
  struct Setup: Sendable, CustomTestStringConvertible {
    let transport: ServerSettings.Transport
    var onEventLoop = true
    var testDescription: String {
      "\(transport.rawValue)\(onEventLoop ? "" : ", handlers on the pool")"
    }
  }

  static let setups = [
    Setup(transport: .suite), Setup(transport: .suite, onEventLoop: false),
    Setup(transport: .suiteNIOHTTP2),
    Setup(transport: .grpcSwift),
  ]

  /// `bench.v1.Greeter` whose `SayHello` does what the request's name asks.
  final class Probe: Bench_V1_Greeter.ServiceProtocol {
    /// Times the handler ran, and whether it saw its RPC cancelled.
    let calls = Atomic(0)
    let cancellationSeen = Atomic(false)
    /// Whether a handler deaf to its cancellation handle saw its task cancelled.
    let taskCancellationSeen = Atomic(false)
    /// "wait": the handler waits here until the test yields to it; both kinds of waiting
    /// handler announce their start on `started`.
    let gate = AsyncStream.makeStream(of: Void.self)
    let started = AsyncStream.makeStream(of: Void.self)

    /// Returns once a handler has started ("until cancelled" or "wait"); call once per probe.
    func untilStarted() async {
      var started = started.stream.makeAsyncIterator()
      await started.next()
    }

    /// Whether a handler has seen its RPC cancelled, waiting up to `limit` for it.
    func sawCancellation(within limit: Duration) async throws -> Bool {
      let deadline = ContinuousClock.now + limit
      while !cancellationSeen.load(ordering: .relaxed), ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
      }
      return cancellationSeen.load(ordering: .relaxed)
    }

    func sayHello(
      request: ServerRequest<Bench_V1_HelloRequest>,
      context: ServerContext
    ) async throws
      -> ServerResponse<Bench_V1_HelloReply>
    {
      calls.add(1, ordering: .relaxed)
      switch request.message.name {
      case "until cancelled":
        started.continuation.yield()
        // The task is cancelled at the deadline too; this handler answers all the same.
        while !context.cancellation.isCancelled { try? await Task.sleep(for: .milliseconds(10)) }
        cancellationSeen.store(true, ordering: .relaxed)
        return ServerResponse(message: .with { $0.message = "cancelled" })
      case "until task cancelled":
        started.continuation.yield()
        // Waits as a database connection lease does: deaf to the handle, not to the task.
        do {
          try await Task.sleep(for: .testPatience)
        } catch {
          taskCancellationSeen.store(true, ordering: .relaxed)
          throw error
        }
        return ServerResponse(message: .with { $0.message = "slept" })
      case "wait":
        started.continuation.yield()
        var released = gate.stream.makeAsyncIterator()
        await released.next()
        return ServerResponse(message: .with { $0.message = "released" })
      case "invalid":
        throw ServiceError.invalid(field: "name", "is not a name")
      case "leak":
        throw ErrorMappingTests.Leaky()
      case "budget":
        // What a call made now may wait, of 5 s: the caller's deadline propagated.
        let budget = RequestContext.current.callTimeout(.seconds(5))
        return ServerResponse(
          message: .with { $0.message = String(Int(budget / .milliseconds(1))) }
        )
      case "returned error":
        return ServerResponse(
          error: RPCError(code: .failedPrecondition, message: "returned, not thrown")
        )
      default:
        // The request context as the handler sees it, and metadata both ways.
        var metadata: Metadata = ["greeting": "initial"]
        metadata.addString(RequestContext.current.rpc, forKey: "rpc")
        return ServerResponse(
          message: .with { $0.message = RequestContext.current.requestID },
          metadata: metadata,
          trailingMetadata: ["greeting": "trailing"]
        )
      }
    }
  }

  static func withGreeter(
    _ setup: Setup,
    asInternal: Bool = false,
    _ probe: Probe = Probe(),
    _ body:
      @Sendable (
        Greeter, GRPCClient<HTTP2ClientTransport.Posix>,
        _ shutDown: @escaping @Sendable () async -> Void
      ) async throws
      -> Void
  ) async throws {
    try await TestServer.withServer(
      TestServer.settings(setup.transport) { $0.unaryOnEventLoop = setup.onEventLoop },
      open: asInternal ? [] : [probe],
      internal: asInternal ? [probe] : []
    ) { port, shutDown in
      try await TestServer.withClient(port: port) { client in
        try await body(Greeter(wrapping: client), client, shutDown)
      }
    }
  }

  static func hello(_ name: String) -> Bench_V1_HelloRequest { .with { $0.name = name } }

  @Test(
    "the request context reaches the handler; metadata and the request id come back",
    arguments: setups
  )
  func contextAndMetadata(setup: Setup) async throws {
    try await Self.withGreeter(setup) { greeter, _, _ in
      let (message, initial, trailing) = try await Self.reply(
        greeter,
        metadata: ["x-request-id": "given-7"]
      )
      #expect(message == "given-7")
      #expect(initial[stringValues: "x-request-id"].map { $0 } == ["given-7"])
      #expect(initial[stringValues: "greeting"].map { $0 } == ["initial"])
      #expect(initial[stringValues: "rpc"].map { $0 } == ["bench.v1.Greeter/SayHello"])
      #expect(trailing[stringValues: "greeting"].map { $0 } == ["trailing"])
      // Without one, the server makes one up and tells it.
      let (made, madeInitial, _) = try await Self.reply(greeter, metadata: [:])
      #expect(!made.isEmpty && made != "given-7")
      #expect(madeInitial[stringValues: "x-request-id"].map { $0 } == [made])
    }
  }

  static func reply(
    _ greeter: Greeter,
    metadata: Metadata
  ) async throws -> (String, Metadata, Metadata) {
    try await greeter.sayHello(Self.hello("context"), metadata: metadata) { response in
      (try response.message.message, response.metadata, response.trailingMetadata)
    }
  }

  @Test("errors leave as the interceptors map them, with the request id", arguments: setups)
  func errors(setup: Setup) async throws {
    try await Self.withGreeter(setup) { greeter, _, _ in
      let invalid = try await Self.failure(greeter, "invalid")
      #expect(invalid.code == .invalidArgument)
      #expect(
        try invalid.unpackGoogleRPCStatus()?.details.compactMap(\.badRequest).first?.violations
          .first?.field == "name"
      )
      #expect(invalid.metadata[stringValues: "x-request-id"].map { $0 } == ["failing-1"])

      let leak = try await Self.failure(greeter, "leak")
      #expect(leak.code == .internalError)
      #expect(!leak.message.contains("SQLSTATE"))
      #expect(leak.message.contains("failing-1"))

      let returned = try await Self.failure(greeter, "returned error")
      #expect(returned.code == .failedPrecondition)
      #expect(returned.message == "returned, not thrown")
    }
  }

  static func failure(_ greeter: Greeter, _ name: String) async throws -> RPCError {
    try await #require(throws: RPCError.self) {
      try await greeter.sayHello(Self.hello(name), metadata: ["x-request-id": "failing-1"])
    }
  }

  @Test("an internal service's unary methods need the internal credential", arguments: setups)
  func internalCredential(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, asInternal: true, probe) { greeter, _, _ in
      let missing = try await Self.failure(greeter, "x")
      #expect(missing.code == .unauthenticated)
      let wrong = await #expect(throws: RPCError.self) {
        try await greeter.sayHello(Self.hello("x"), metadata: ["authorization": "Bearer nope"])
      }
      #expect(wrong?.code == .permissionDenied)
      let calls = probe.calls.load(ordering: .relaxed)
      #expect(calls == 0)
      let reply = try await greeter.sayHello(
        Self.hello("x"),
        metadata: ["authorization": "Bearer test"]
      )
      #expect(!reply.message.isEmpty)
    }
  }

  @Test(
    "a deadline that passes cancels the RPC for its handler, whether or not the caller cancels",
    arguments: setups
  )
  func deadline(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { greeter, _, _ in
      // The caller sends a deadline and cancels when it passes. On a loaded machine a short
      // deadline can pass before the RPC reaches its handler (then there is nothing to cancel,
      // and the test would prove nothing): the deadline doubles until the handler ran.
      let late = try await Self.untilHandlerRan(probe) { timeout in
        var options = CallOptions.defaults
        options.timeout = timeout
        return try await greeter.sayHello(Self.hello("until cancelled"), options: options).message
      }
      let lateError = try #require(throws: RPCError.self) { try late.get() }
      #expect(lateError.code == .deadlineExceeded)
      let sawCancellation = try await probe.sawCancellation(within: .testPatience)
      #expect(sawCancellation)

      // The server keeps the deadline itself, whether or not the caller does: a caller that
      // sends one and never cancels gets the handler's answer once the handler sees the RPC
      // cancelled (what a handler returns after its deadline is still sent, as GRPCCore does).
      let kept = try await Self.untilHandlerRan(probe) { timeout in
        try await Self.helloWithServerDeadline("until cancelled", timeout, greeter)
      }
      #expect(try kept.get() == "cancelled")
    }
  }

  @Test(
    "past the deadline the handler's task is cancelled too: work deaf to the cancellation handle (a database wait) stops",
    arguments: setups
  )
  func deadlineCancelsTheTask(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { greeter, _, _ in
      // The caller never cancels: only the server's keeping of the deadline can end the RPC
      // before the watchdog does.
      let outcome = try await Self.untilHandlerRan(probe) { timeout in
        try await Self.helloWithServerDeadline("until task cancelled", timeout, greeter)
      }
      let error = try #require(throws: RPCError.self) { try outcome.get() }
      #expect(error.code == .deadlineExceeded, "\(error)")
      let taskCancelled = probe.taskCancellationSeen.load(ordering: .relaxed)
      #expect(taskCancelled)
    }
  }

  /// `SayHello(name)` with a `grpc-timeout` the caller itself never keeps: only the server's
  /// keeping of the deadline ends the RPC before a watchdog of `testPatience` cancels it (then
  /// the test fails rather than hangs).
  static func helloWithServerDeadline(
    _ name: String,
    _ timeout: Duration,
    _ greeter: Greeter
  ) async throws -> String {
    let call = Task {
      try await greeter.sayHello(
        Self.hello(name),
        metadata: ["grpc-timeout": "\(timeout.components.seconds * 1000)m"]
      )
    }
    let watchdog = Task {
      try await Task.sleep(for: .testPatience)
      call.cancel()
    }
    defer { watchdog.cancel() }
    return try await call.value.message
  }

  /// Runs `call` with a deadline of 1 s, then 2, 4... until the probe's handler ran during a
  /// call; returns that call's outcome.
  static func untilHandlerRan(
    _ probe: Probe,
    _ call: (_ timeout: Duration) async throws -> String
  ) async throws -> Result<String, any Error> {
    var timeout = Duration.seconds(1)
    while true {
      let before = probe.calls.load(ordering: .relaxed)
      let outcome: Result<String, any Error>
      do {
        outcome = .success(try await call(timeout))
      } catch {
        outcome = .failure(error)
      }
      if probe.calls.load(ordering: .relaxed) > before { return outcome }
      try #require(timeout < .testPatience, "the handler never ran: \(outcome)")
      timeout *= 2
    }
  }

  @Test("a caller that gives up cancels the RPC for its handler", arguments: setups)
  func callerCancels(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { greeter, _, _ in
      let call = Task { try await greeter.sayHello(Self.hello("until cancelled")) }
      await probe.untilStarted()
      call.cancel()
      _ = await call.result
      let sawCancellation = try await probe.sawCancellation(within: .testPatience)
      #expect(sawCancellation)
    }
  }

  @Test(
    "text PostgreSQL cannot store (U+0000) is INVALID_ARGUMENT naming its field, and the handler never runs",
    arguments: setups
  )
  func unstorableText(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { greeter, _, _ in
      let refused = try await Self.failure(greeter, "na\u{0}me")
      #expect(refused.code == .invalidArgument)
      let violations = try refused.unpackGoogleRPCStatus()?.details.compactMap(\.badRequest).first?
        .violations
      #expect(violations?.map(\.field) == ["name"])
      #expect(violations?.first?.description.contains("U+0000") == true)
      #expect(probe.calls.load(ordering: .relaxed) == 0)
      // The same RPC with storable text runs.
      _ = try await greeter.sayHello(Self.hello("name"))
      #expect(probe.calls.load(ordering: .relaxed) == 1)
    }
  }

  @Test(
    "the caller's deadline is the handler's: calls it makes wait no longer than what is left of it",
    arguments: setups
  )
  func deadlinePropagates(setup: Setup) async throws {
    try await Self.withGreeter(setup) { greeter, _, _ in
      // 300 ms, doubled while the machine is too busy to answer in time (a deadline missed
      // under load says nothing about what the handler was told).
      var budget = 300
      var within: Int?
      while within == nil {
        var options = CallOptions.defaults
        options.timeout = .milliseconds(budget)
        do {
          within = try #require(
            Int(try await greeter.sayHello(Self.hello("budget"), options: options).message)
          )
        } catch let error as RPCError where error.code == .deadlineExceeded && budget < 60_000 {
          budget *= 2
        }
      }
      // Less the margin kept for the call's way to its callee and the callee's last write.
      let told = try #require(within)
      let margin = Int(RequestContext.hopMargin / .milliseconds(1))
      #expect(told >= 0 && told <= budget - margin, "told \(told) ms of \(budget)")
      let unbounded = try #require(Int(try await greeter.sayHello(Self.hello("budget")).message))
      #expect(unbounded == 5000)
    }
  }

  @Test("a unary method sent no message or two answers INTERNAL without running", arguments: setups)
  func messageCount(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { _, client, _ in
      for count in [0, 2] {
        let request = StreamingClientRequest<Bench_V1_HelloRequest> { writer in
          for _ in 0..<count { try await writer.write(Self.hello("x")) }
        }
        let refused = await #expect(throws: RPCError.self) {
          try await client.clientStreaming(
            request: request,
            descriptor: Bench_V1_Greeter.Method.SayHello.descriptor,
            serializer: ProtobufSerializer<Bench_V1_HelloRequest>(),
            deserializer: ProtobufDeserializer<Bench_V1_HelloReply>(),
            options: .defaults
          ) { try $0.message }
        }
        #expect(refused?.code == .internalError, "\(count) messages")
      }
      let calls = probe.calls.load(ordering: .relaxed)
      #expect(calls == 0)
    }
  }

  @Test(
    "a unary RPC in flight when graceful shutdown begins still gets its answer",
    arguments: setups
  )
  func answersDuringShutdown(setup: Setup) async throws {
    let probe = Probe()
    try await Self.withGreeter(setup, probe) { greeter, _, shutDown in
      let call = Task { try await greeter.sayHello(Self.hello("wait")) }
      await probe.untilStarted()
      await shutDown()
      try await Task.sleep(for: .milliseconds(200))
      probe.gate.continuation.yield()
      #expect(try await call.value.message == "released")
    }
  }
}
