import GRPCCore
import Testing

@testable import SuiteRPC
@testable import SuiteTransport

/// The pieces of the server transport's per-RPC path written for speed: the queue that hands
/// request parts to a handler, and the reading of the bearer token and the peer's host.
@Suite("The transport's per-RPC pieces")
struct RequestPartsTests {
  @Test("a handoff queue gives its elements in order, then its error once, then the end")
  func handoffOrderAndEnd() async throws {
    let queue = HandoffQueue<Int>()
    queue.yield(1)
    queue.yield(2)
    queue.finish(throwing: RPCError(code: .cancelled, message: "gone"))
    queue.yield(3)
    #expect(try await queue.next() == 1)
    #expect(try await queue.next() == 2)
    await #expect(throws: RPCError.self) { try await queue.next() }
    let after = try await queue.next()
    #expect(after == nil)
  }

  @Test("a reader waiting on an empty queue gets what is yielded later, and the end")
  func handoffWaitingReader() async throws {
    let queue = HandoffQueue<String>()
    async let first = queue.next()
    try await Task.sleep(for: .milliseconds(50))
    queue.yield("late")
    #expect(try await first == "late")
    async let end = queue.next()
    try await Task.sleep(for: .milliseconds(50))
    queue.finish()
    #expect(try await end == nil)
  }

  @Test("cancelling a waiting reader ends its read with nothing")
  func handoffCancelledReader() async throws {
    let queue = HandoffQueue<Int>()
    let reader = Task { try await queue.next() }
    try await Task.sleep(for: .milliseconds(50))
    reader.cancel()
    let read = try await reader.value
    #expect(read == nil)
    queue.yield(7)
    let later = try await queue.next()
    #expect(later == nil)
  }

  @Test(
    "the bearer token is read whatever the scheme's case, without the blanks around it",
    arguments: [
      ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc\t ", "abc"),
      ("Bearer a b", "a b"),
      ("Bearer ", nil), ("Bearer \t", nil), ("Basic abc", nil), ("Bearerabc", nil), ("Bearer", nil),
      ("Bearer\u{0}abc", nil), ("Bearer tökén", "tökén"),
    ] as [(String, String?)]
  )
  func bearerToken(header: String, token: String?) {
    var metadata = Metadata()
    metadata.addString(header, forKey: "authorization")
    #expect(RequestContextInterceptor.bearerToken(from: metadata) == token)
    #expect(RequestContextInterceptor.bearerToken(from: Metadata()) == nil)
  }

  @Test(
    "the peer's host is read from grpc-swift's peer names",
    arguments: [
      ("ipv4:127.0.0.1:5555", "127.0.0.1"), ("ipv6:[::1]:5555", "::1"),
      ("unix:/tmp/socket", "/tmp/socket"),
      ("<unknown>", "<unknown>"),
    ]
  )
  func peerHost(peer: String, host: String) {
    #expect(Peer.host(of: peer) == host)
  }
}
