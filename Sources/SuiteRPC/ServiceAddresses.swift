import Foundation
public import GRPCCore
public import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
public import SuiteKit
import SuiteTransport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where another service of the suite answers: one or more `host:port`, each name standing for
/// every address it resolves to (a headless Kubernetes Service names each ready replica). Its
/// resolver gives the channel one endpoint per address, so calls are spread round robin over
/// all replicas (grpc's DNS resolver gives one endpoint of many addresses: one connection), and
/// looks the names up again every `refresh`, so a new replica takes its share and a removed one
/// stops being called.
public struct ServiceAddresses: ResolvableTarget, Sendable {
  public struct Name: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
      self.host = host
      self.port = port
    }

    public var description: String { "\(host):\(port)" }
  }

  public var names: [Name]
  public var refresh: Duration
  /// Every address of a name (the system's resolver; tests give their own).
  let lookup: @Sendable (Name) async throws -> [GRPCNIOTransportCore.SocketAddress]

  /// `text`: `host:port[,host:port…]`, named in errors after `variable`.
  public init(
    _ text: String,
    variable: String,
    refresh: Duration = .seconds(30)
  ) throws(ConfigError) {
    var names: [Name] = []
    for part in text.split(separator: ",", omittingEmptySubsequences: false) {
      let pieces = part.trimmingCharacters(in: .whitespaces).split(separator: ":")
      guard pieces.count == 2, !pieces[0].isEmpty, let port = Int(pieces[1]),
        (1...65535).contains(port)
      else {
        throw .invalid(
          variable: variable,
          value: text,
          expected: "host:port, or several separated by commas"
        )
      }
      names.append(Name(host: String(pieces[0]), port: port))
    }
    self.init(names: names, refresh: refresh, lookup: Self.systemLookup)
  }

  init(
    names: [Name],
    refresh: Duration,
    lookup: @escaping @Sendable (Name) async throws -> [GRPCNIOTransportCore.SocketAddress]
  ) {
    self.names = names
    self.refresh = refresh
    self.lookup = lookup
  }

  /// The name a TLS certificate is checked against and sent as `:authority`: the first host
  /// name (every replica behind it presents a certificate for it); none for bare addresses,
  /// whose certificates are checked against the address itself.
  var authority: String? {
    names.first { IPAddress.bytes(of: $0.host) == nil }.map(\.host)
  }

  /// One endpoint per distinct address of every name, in a stable order (so an unchanged
  /// lookup is recognised). Throws UNAVAILABLE when no name has an address.
  func endpoints() async throws -> [Endpoint] {
    var addresses: Set<GRPCNIOTransportCore.SocketAddress> = []
    var failures: [String] = []
    for name in names {
      do {
        addresses.formUnion(try await lookup(name))
      } catch let error as CancellationError {
        throw error
      } catch {
        failures.append("\(name): \(error)")
      }
    }
    guard !addresses.isEmpty else {
      throw RPCError(
        code: .unavailable,
        message: "no address for \(names.map(\.description).joined(separator: ", ")): "
          + failures.joined(separator: "; ")
      )
    }
    return addresses.sorted { $0.description < $1.description }.map { Endpoint(addresses: [$0]) }
  }

  /// getaddrinfo on NIO's blocking-I/O pool, every address of the name (IPv4 and IPv6).
  @Sendable static func systemLookup(
    _ name: Name
  ) async throws -> [GRPCNIOTransportCore.SocketAddress] {
    try await NIOThreadPool.singleton.runIfActive {
      var hints = addrinfo()
      hints.ai_family = AF_UNSPEC
      #if canImport(Glibc)
      hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
      #else
      hints.ai_socktype = SOCK_STREAM
      #endif
      var list: UnsafeMutablePointer<addrinfo>?
      let code = getaddrinfo(name.host, String(name.port), &hints, &list)
      guard code == 0, let first = list else {
        throw NameNotResolved(name: name, reason: String(cString: gai_strerror(code)))
      }
      defer { freeaddrinfo(first) }
      var addresses: [GRPCNIOTransportCore.SocketAddress] = []
      for info in sequence(first: first, next: { $0.pointee.ai_next }) {
        guard let address = info.pointee.ai_addr else { continue }
        switch info.pointee.ai_family {
        case AF_INET:
          let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
            NIOCore.SocketAddress($0.pointee, host: name.host).ipAddress
          }
          if let ip { addresses.append(.ipv4(host: ip, port: name.port)) }
        case AF_INET6:
          let ip = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
            NIOCore.SocketAddress($0.pointee, host: name.host).ipAddress
          }
          if let ip { addresses.append(.ipv6(host: ip, port: name.port)) }
        default:
          continue
        }
      }
      return addresses
    }
  }

  struct NameNotResolved: Error, CustomStringConvertible {
    let name: Name
    let reason: String
    var description: String { "\(name.host) does not resolve: \(reason)" }
  }
}

extension ServiceAddresses {
  /// Makes the channel's resolver for a `ServiceAddresses` target (registered by
  /// `GRPCClientService.transport`).
  struct ResolverFactory: NameResolverFactory {
    typealias Target = ServiceAddresses

    func resolver(for target: ServiceAddresses) -> NameResolver {
      NameResolver(
        names: RPCAsyncSequence(wrapping: Updates(target: target)),
        updateMode: .push,
        authority: target.authority
      )
    }
  }

  /// The addresses now, then again each time a lookup `refresh` later finds them changed. A
  /// failed lookup throws: the channel keeps the last addresses and starts a new sequence
  /// after a backoff (NameResolver's contract).
  struct Updates: AsyncSequence, Sendable {
    typealias Element = NameResolutionResult
    let target: ServiceAddresses

    func makeAsyncIterator() -> Iterator { Iterator(target: target) }

    struct Iterator: AsyncIteratorProtocol {
      let target: ServiceAddresses
      var last: [Endpoint]?

      mutating func next() async throws -> NameResolutionResult? {
        while true {
          if last != nil { try await Task.sleep(for: target.refresh) }
          let endpoints = try await target.endpoints()
          if endpoints != last {
            last = endpoints
            return NameResolutionResult(endpoints: endpoints, serviceConfig: nil)
          }
        }
      }
    }
  }
}
