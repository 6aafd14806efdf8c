import GRPCCore
import Logging
import SuiteKit
import Testing

@testable import SuiteRPC
@testable import SuiteTransport

/// Who the caller is behind an ingress: `x-forwarded-for` only from `TRUSTED_PROXIES`.
@Suite("Callers behind trusted proxies")
struct TrustedProxiesTests {
  let proxies: TrustedProxies

  init() throws {
    proxies = try TrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8")
  }

  @Test("addresses and CIDR blocks, IPv4 and IPv6; anything else refused naming the variable")
  func parsing() throws {
    #expect(proxies.isTrusted("10.200.3.4"))
    #expect(proxies.isTrusted("192.168.1.7"))
    #expect(!proxies.isTrusted("192.168.1.8"))
    #expect(!proxies.isTrusted("11.0.0.1"))
    #expect(proxies.isTrusted("fd12::1"))
    #expect(!proxies.isTrusted("fe80::1"))
    #expect(!proxies.isTrusted("not-an-address"))
    #expect(try TrustedProxies("0.0.0.0/0").isTrusted("203.0.113.9"))
    for bad in [
      "10.0.0.0/33", "10.0.0/8", "proxy.internal", "10.0.0.1/", "fd00::/129", "1.2.3.4/8/1",
    ] {
      #expect(throws: ConfigError.self, "\(bad)") { try TrustedProxies(bad) }
    }
  }

  @Test(
    "the caller is the nearest forwarded address that is not a trusted proxy; others' headers are ignored"
  )
  func caller() {
    // A client straight to the server cannot name itself.
    #expect(proxies.caller(peer: "203.0.113.9", forwardedFor: "198.51.100.1") == "203.0.113.9")
    // Through the ingress: what the ingress saw.
    #expect(proxies.caller(peer: "10.1.2.3", forwardedFor: "198.51.100.1") == "198.51.100.1")
    // The client's own (forged) entries stay left of what the ingress appended.
    #expect(
      proxies.caller(peer: "10.1.2.3", forwardedFor: "1.1.1.1, 198.51.100.1") == "198.51.100.1"
    )
    // Two proxies in a row: the first untrusted from the right.
    #expect(
      proxies.caller(peer: "10.1.2.3", forwardedFor: "198.51.100.1, 192.168.1.7") == "198.51.100.1"
    )
    // All trusted: the leftmost; no header or a malformed hop: the nearest good address.
    #expect(proxies.caller(peer: "10.1.2.3", forwardedFor: "10.9.9.9, 192.168.1.7") == "10.9.9.9")
    #expect(proxies.caller(peer: "10.1.2.3", forwardedFor: nil) == "10.1.2.3")
    #expect(proxies.caller(peer: "10.1.2.3", forwardedFor: "junk, 10.9.9.9") == "10.9.9.9")
    #expect(
      TrustedProxies.noProxies.caller(peer: "10.1.2.3", forwardedFor: "198.51.100.1") == "10.1.2.3"
    )
  }

  @Test("every RPC's context takes its peer through them, as per-peer throttles read it")
  func requestContext() {
    var metadata = Metadata()
    metadata.addString("198.51.100.1", forKey: "x-forwarded-for")
    let logger = Logger(label: "trusted-proxies-test")
    let behindIngress = RequestContextInterceptor.requestContext(
      metadata: metadata,
      peer: "10.1.2.3",
      rpc: "a.B/C",
      logger: logger,
      trustedProxies: proxies
    )
    #expect(behindIngress.peer == "198.51.100.1")
    let direct = RequestContextInterceptor.requestContext(
      metadata: metadata,
      peer: "203.0.113.9",
      rpc: "a.B/C",
      logger: logger,
      trustedProxies: proxies
    )
    #expect(direct.peer == "203.0.113.9")
  }
}
