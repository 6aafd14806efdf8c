public import NIOSSL
public import PostgresNIO
public import SuiteKit

import struct Foundation.URLComponents
import struct Foundation.URLQueryItem

/// A `postgres://user:password@host:port/database?options` URL turned into a client
/// configuration. The options are libpq's names where libpq has one: `sslmode`, `sslrootcert`,
/// `connect_timeout` (seconds), `statement_timeout` (milliseconds, PostgreSQL's own setting);
/// and `pool_size`, the most connections the service keeps to the server.
public struct DatabaseURL: Sendable {
  /// How the connection is protected, as libpq's `sslmode` says it. Unlike libpq, whose default
  /// is `prefer`, the default is `disable`: a server on the same machine or network needs no
  /// TLS, and one across a network should be named with `verify-full`, not trusted by chance.
  public enum TLSMode: String, Sendable, CaseIterable {
    /// Plain TCP.
    case disable
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    case prefer
    /// TLS or no connection; the certificate is checked against `sslrootcert` only if given.
    case require
    /// TLS, with a certificate issued by a trusted CA, for any host name.
    case verifyCA = "verify-ca"
    /// TLS, with a certificate issued by a trusted CA for the host connected to.
    case verifyFull = "verify-full"
  }

  public var host: String
  public var port: Int
  public var username: String
  public var password: String?
  public var database: String
  public var tls: TLSMode = .disable
  /// `sslrootcert`: the CA certificates (PEM) the server's certificate must chain to; without
  /// it, the system's trust roots (`sslrootcert=system` says so explicitly).
  public var rootCertificateFile: String?
  public var poolSize = 20
  public var connectTimeout: Duration?
  /// Sent as the connection's `statement_timeout`: the server cancels a statement that runs
  /// longer (a deadline the service keeps is usually shorter; this bounds everything else).
  public var statementTimeoutMilliseconds: Int?
  /// The CA certificates read from `rootCertificateFile`, once, when the URL is parsed.
  private var rootCertificates: [NIOSSLCertificate]?

  /// Parses `text`; `variable` names the setting in the error. A CA file is read here, so a
  /// missing or unreadable one stops the service at start-up, naming the option.
  /// `DATABASE_URL`, as every service reads it.
  public init(config: ConfigReader) throws(ConfigError) {
    try self.init(try config.required("DATABASE_URL"))
  }

  public init(_ text: String, variable: String = "DATABASE_URL") throws(ConfigError) {
    let expected = "postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=…]"
    guard let components = URLComponents(string: text),
      components.scheme == "postgres" || components.scheme == "postgresql",
      let host = components.host, !host.isEmpty,
      let user = components.user, !user.isEmpty
    else {
      throw .invalid(variable: variable, value: Self.redacted(text), expected: expected)
    }
    let database = String(components.path.drop(while: { $0 == "/" }))
    guard !database.isEmpty else {
      throw .invalid(variable: variable, value: Self.redacted(text), expected: expected)
    }
    self.host = host
    self.port = components.port ?? 5432
    self.username = user
    self.password = components.password
    self.database = database
    try applyOptions(components.queryItems ?? [], variable: variable)
  }

  public init(host: String, port: Int, username: String, password: String?, database: String) {
    self.host = host
    self.port = port
    self.username = username
    self.password = password
    self.database = database
  }

  private mutating func applyOptions(_ items: [URLQueryItem], variable: String) throws(ConfigError)
  {
    func invalid(_ name: String, _ value: String, _ expected: String) -> ConfigError {
      .invalid(variable: "\(variable) option \(name)", value: value, expected: expected)
    }
    func integer(_ item: URLQueryItem, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
      guard let value = item.value.flatMap({ Int($0) }), range.contains(value) else {
        throw invalid(
          item.name,
          item.value ?? "",
          "an integer in \(range.lowerBound)...\(range.upperBound)"
        )
      }
      return value
    }
    var seen: Set<String> = []
    for item in items {
      guard seen.insert(item.name).inserted else {
        throw invalid(item.name, item.value ?? "", "the option once")
      }
      switch item.name {
      case "sslmode":
        guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
          throw invalid(
            item.name,
            item.value ?? "",
            TLSMode.allCases.map(\.rawValue).joined(separator: ", ")
          )
        }
        tls = mode
      case "sslrootcert":
        guard let path = item.value, !path.isEmpty else {
          throw invalid(item.name, "", "a PEM file of CA certificates, or system")
        }
        if path != "system" {
          do {
            rootCertificates = try NIOSSLCertificate.fromPEMFile(path)
          } catch {
            throw invalid(item.name, path, "a readable PEM file of CA certificates (\(error))")
          }
          guard rootCertificates?.isEmpty == false else {
            throw invalid(item.name, path, "a PEM file with at least one certificate")
          }
          rootCertificateFile = path
        }
      case "connect_timeout":
        connectTimeout = .seconds(try integer(item, 1...3600))
      case "statement_timeout":
        statementTimeoutMilliseconds = try integer(item, 0...86_400_000)
      case "pool_size":
        poolSize = try integer(item, 1...1000)
      default:
        throw invalid(
          item.name,
          item.value ?? "",
          "one of sslmode, sslrootcert, connect_timeout, statement_timeout, pool_size"
        )
      }
    }
    if rootCertificates != nil, tls == .disable || tls == .prefer {
      throw invalid(
        "sslrootcert",
        rootCertificateFile ?? "",
        "sslmode require, verify-ca or verify-full with it"
      )
    }
  }

  /// The same server and options, another database.
  public func with(database: String) -> DatabaseURL {
    var copy = self
    copy.database = database
    return copy
  }

  public var text: String {
    let credentials = password.map { "\(username):\($0)" } ?? username
    var options: [String] = []
    if tls != .disable { options.append("sslmode=\(tls.rawValue)") }
    if let rootCertificateFile { options.append("sslrootcert=\(rootCertificateFile)") }
    if let connectTimeout { options.append("connect_timeout=\(connectTimeout.components.seconds)") }
    if let statementTimeoutMilliseconds {
      options.append("statement_timeout=\(statementTimeoutMilliseconds)")
    }
    if poolSize != 20 { options.append("pool_size=\(poolSize)") }
    let query = options.isEmpty ? "" : "?" + options.joined(separator: "&")
    return "postgres://\(credentials)@\(host):\(port)/\(database)\(query)"
  }

  public var clientConfiguration: PostgresClient.Configuration {
    var configuration = PostgresClient.Configuration(
      host: host,
      port: port,
      username: username,
      password: password,
      database: database,
      tls: clientTLS
    )
    configuration.options.maximumConnections = poolSize
    if let connectTimeout { configuration.options.connectTimeout = connectTimeout }
    if let statementTimeoutMilliseconds {
      configuration.options.additionalStartupParameters.append(
        ("statement_timeout", String(statementTimeoutMilliseconds))
      )
    }
    return configuration
  }

  private var clientTLS: PostgresClient.Configuration.TLS {
    var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
    if let rootCertificates { tlsConfiguration.trustRoots = .certificates(rootCertificates) }
    switch tls {
    case .disable:
      return .disable
    case .prefer:
      tlsConfiguration.certificateVerification = .none
      return .prefer(tlsConfiguration)
    case .require:
      tlsConfiguration.certificateVerification =
        rootCertificates == nil ? .none : .noHostnameVerification
      return .require(tlsConfiguration)
    case .verifyCA:
      tlsConfiguration.certificateVerification = .noHostnameVerification
      return .require(tlsConfiguration)
    case .verifyFull:
      tlsConfiguration.certificateVerification = .fullVerification
      return .require(tlsConfiguration)
    }
  }

  /// Never log a password.
  static func redacted(_ text: String) -> String {
    guard var components = URLComponents(string: text), components.password != nil else {
      return text
    }
    components.password = "***"
    return components.string ?? "<unparseable>"
  }
}
