public import GRPCCore
public import SuiteKit

/// A unary method the transport answers itself, past GRPCCore's per-RPC executor.
///
/// GRPCCore runs every RPC as a stream: the request parts as a mapped async sequence, each
/// interceptor called generically through an existential, the unary method adapted to a
/// streaming one and its answer written through a producer closure and writer wrappers. For a
/// unary RPC that structure was half of the server's CPU per RPC (`bench/results/grpc-changes.md`).
/// Whoever sets the transport up says which methods it answers this way and what answers
/// them (`SuiteServerTransport`'s `unaryRoutes`, by request path); every other method, and
/// every streaming one, goes to GRPCCore's server.
public protocol UnaryRoute: AnyObject, Sendable {
  /// Answers `call`: reads its one message (`UnaryCall.onlyMessage`) and writes its answer.
  func serve(_ call: UnaryCall) async
}

/// Unary routes by request path, "/package.Service/Method".
public typealias UnaryRoutes = [String: any UnaryRoute]

/// One unary RPC accepted for a `UnaryRoute`, served on a task of its own. A class: it is
/// handed from the event loop to its connection's task and on to its own, and copying a
/// struct of this many references retained and released each of them every time (~4 % of
/// the CPU per RPC).
public final class UnaryCall: Sendable {
  public let route: any UnaryRoute
  public let metadata: Metadata
  /// How the request's message is encoded, and how the answer's must be: protobuf for gRPC,
  /// either for the browser protocols (`application/json`).
  public let format: MessageFormat
  /// The caller's host without its port ("127.0.0.1"), as `Peer.host(of:)` gives it.
  public let peer: String
  /// Its method and peers, and the handle that cancels it (RST_STREAM, a lost connection). The
  /// transport times out a request that never arrives whole; the deadline of a whole one
  /// (`grpc-timeout`) is the route's to keep (SuiteRPC's `UnaryMethod` does).
  public let context: ServerContext
  let requests: ConsumedRequests
  let writer: SuiteResponseWriter

  init(
    route: any UnaryRoute,
    metadata: Metadata,
    format: MessageFormat,
    peer: String,
    requests: ConsumedRequests,
    writer: SuiteResponseWriter,
    context: ServerContext
  ) {
    self.route = route
    self.metadata = metadata
    self.format = format
    self.peer = peer
    self.requests = requests
    self.writer = writer
    self.context = context
  }

  /// The request's one message, once the client has ended its requests (GRPCCore's unary
  /// adapter reads the same way, with the same errors).
  public func onlyMessage() async throws -> MessageBytes {
    var parts = requests.makeAsyncIterator()
    guard case .message(let message)? = try await parts.next() else {
      throw RPCError(code: .internalError, message: "Empty stream.")
    }
    guard try await parts.next() == nil else {
      throw RPCError(code: .internalError, message: "Too many messages.")
    }
    return message
  }

  /// Writes the answer, all of it at once: metadata, message and status, or a status alone.
  public func answer(_ parts: [RPCResponsePart<MessageBytes>]) async {
    await writer.write(contentsOf: parts)
  }

  /// A connection's unary calls, each in a task of its own, on the connection's event loop
  /// when `loop` is given (a task's preferred executor is inherited by its child tasks),
  /// otherwise on the concurrency pool (`ServerSettings.unaryOnEventLoop`). On the loop, which
  /// reads the request and writes the answer, a handler that waits for nothing else (a
  /// database, another service) runs without a single hand-over between threads, and one that
  /// does resumes on the loop its answer leaves from; through the pool a lone RPC cost two
  /// thread wake-ups. Work that computes for long does not belong on a loop: the suite's
  /// password hashing has threads of its own (`PasswordHasher`).
  static func serve(_ calls: HandoffQueue<UnaryCall>, on loop: EventLoopTaskExecutor?) async {
    await withTaskExecutorPreference(loop) {
      await withDiscardingTaskGroup { group in
        // The queue ends when the connection closes, or with an error when this task is cancelled.
        while let call = try? await calls.next() {
          group.addTask { await call.route.serve(call) }
        }
      }
    }
  }
}

/// `grpc-timeout`: 1 to 8 digits and a unit (H, M, S, m, u, n).
public enum GRPCTimeout {
  public static func duration(_ value: String?) -> Duration? {
    guard let value, let unit = value.utf8.last else { return nil }
    let digits = value.utf8.dropLast()
    guard (1...8).contains(digits.count), digits.allSatisfy({ (0x30...0x39).contains($0) }),
      let amount = Int64(String(decoding: digits, as: UTF8.self))
    else { return nil }
    switch unit {
    case UInt8(ascii: "H"): return .seconds(amount * 3600)
    case UInt8(ascii: "M"): return .seconds(amount * 60)
    case UInt8(ascii: "S"): return .seconds(amount)
    case UInt8(ascii: "m"): return .milliseconds(amount)
    case UInt8(ascii: "u"): return .microseconds(amount)
    case UInt8(ascii: "n"): return .nanoseconds(amount)
    default: return nil
    }
  }
}

/// Peers as grpc-swift names them ("ipv4:127.0.0.1:5000", "ipv6:[::1]:5000").
public enum Peer {
  /// "ipv4:127.0.0.1:5555" → "127.0.0.1"; "ipv6:[::1]:5555" → "::1"; anything else as is:
  /// what throttling and trusted proxies key on.
  public static func host(of peer: String) -> String {
    let bytes = peer.utf8
    guard let kindEnd = bytes.firstIndex(of: UInt8(ascii: ":")) else { return peer }
    let address = peer[peer.index(after: kindEnd)...]
    if address.utf8.first == UInt8(ascii: "["),
      let end = address.utf8.firstIndex(of: UInt8(ascii: "]"))
    {
      return String(address[address.index(after: address.startIndex)..<end])
    }
    if let lastColon = address.utf8.lastIndex(of: UInt8(ascii: ":")) {
      return String(address[..<lastColon])
    }
    return String(address)
  }
}
