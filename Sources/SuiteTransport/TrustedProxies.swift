import Foundation
public import SuiteKit

/// The proxies (an ingress, a load balancer) whose `x-forwarded-for` is believed, from
/// `TRUSTED_PROXIES` (addresses or CIDR blocks, comma-separated). Behind them every caller's
/// TCP peer is the proxy, so per-peer limits (the login throttle) would count all users as
/// one; the caller is instead the nearest address in `x-forwarded-for` that is not itself a
/// trusted proxy. A header from anyone else is ignored: a client cannot choose its own address.
public struct TrustedProxies: Sendable, Equatable {
  struct Block: Sendable, Equatable {
    var network: [UInt8]
    var prefixLength: Int

    func contains(_ address: [UInt8]) -> Bool {
      guard address.count == network.count else { return false }
      var bits = prefixLength
      for (given, expected) in zip(address, network) where bits > 0 {
        let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
        if given & mask != expected & mask { return false }
        bits -= 8
      }
      return true
    }
  }

  var blocks: [Block]

  public static let noProxies = TrustedProxies(blocks: [])

  init(blocks: [Block]) {
    self.blocks = blocks
  }

  /// `text`: `10.0.0.0/8, 192.168.1.7, fd00::/8`; named after `variable` in errors.
  public init(_ text: String, variable: String = "TRUSTED_PROXIES") throws(ConfigError) {
    var blocks: [Block] = []
    for entry in text.split(separator: ",") {
      let item = entry.trimmingCharacters(in: .whitespaces)
      let parts = item.split(separator: "/", omittingEmptySubsequences: false)
      guard (1...2).contains(parts.count), let network = IPAddress.bytes(of: String(parts[0]))
      else {
        throw .invalid(
          variable: variable,
          value: text,
          expected: "addresses or CIDR blocks, comma-separated"
        )
      }
      let width = network.count * 8
      let prefix = parts.count == 2 ? Int(parts[1]) : width
      guard let prefix, (0...width).contains(prefix) else {
        throw .invalid(
          variable: variable,
          value: text,
          expected: "a prefix length of 0...\(width) after /"
        )
      }
      blocks.append(Block(network: network, prefixLength: prefix))
    }
    self.blocks = blocks
  }

  /// The caller of an RPC that came from `peer` (its TCP peer's address) with
  /// `forwardedFor` (the `x-forwarded-for` value): `peer` unless it is a trusted proxy; then
  /// the rightmost forwarded address that is not one (each proxy appends the address it saw),
  /// or the leftmost when all are.
  public func caller(peer: String, forwardedFor: @autoclosure () -> String?) -> String {
    // Read only when it can matter: every RPC passes here, and most servers trust no proxy.
    guard !blocks.isEmpty, isTrusted(peer), let forwardedFor = forwardedFor() else { return peer }
    var caller = peer
    for hop in forwardedFor.split(separator: ",").reversed() {
      let address = hop.trimmingCharacters(in: .whitespaces)
      guard IPAddress.bytes(of: address) != nil else { return caller }
      caller = address
      if !isTrusted(address) { return caller }
    }
    return caller
  }

  func isTrusted(_ address: String) -> Bool {
    guard let bytes = IPAddress.bytes(of: address) else { return false }
    return blocks.contains { $0.contains(bytes) }
  }
}
