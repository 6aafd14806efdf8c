#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// IP addresses in text, as `x-forwarded-for`, configuration and host names carry them.
public enum IPAddress {
  /// The address's bytes (4 for IPv4, 16 for IPv6), or nil when it is not an address.
  public static func bytes(of address: String) -> [UInt8]? {
    var ipv4 = in_addr()
    if inet_pton(AF_INET, address, &ipv4) == 1 {
      return withUnsafeBytes(of: &ipv4) { Array($0) }
    }
    var ipv6 = in6_addr()
    if inet_pton(AF_INET6, address, &ipv6) == 1 {
      return withUnsafeBytes(of: &ipv6) { Array($0) }
    }
    return nil
  }
}
