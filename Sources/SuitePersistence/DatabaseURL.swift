public import PostgresNIO
public import SuiteRuntime

import struct Foundation.URLComponents

/// A `postgres://user:password@host:port/database` URL turned into a client configuration.
public struct DatabaseURL: Sendable {
  public var host: String
  public var port: Int
  public var username: String
  public var password: String?
  public var database: String

  /// Parses `text`; `variable` names the setting in the error.
  public init(_ text: String, variable: String = "DATABASE_URL") throws(ConfigError) {
    let expected = "postgres://user[:password]@host[:port]/database"
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
  }

  public init(host: String, port: Int, username: String, password: String?, database: String) {
    self.host = host
    self.port = port
    self.username = username
    self.password = password
    self.database = database
  }

  /// The same server, another database.
  public func with(database: String) -> DatabaseURL {
    var copy = self
    copy.database = database
    return copy
  }

  public var text: String {
    let credentials = password.map { "\(username):\($0)" } ?? username
    return "postgres://\(credentials)@\(host):\(port)/\(database)"
  }

  public var clientConfiguration: PostgresClient.Configuration {
    var configuration = PostgresClient.Configuration(
      host: host,
      port: port,
      username: username,
      password: password,
      database: database,
      tls: .disable
    )
    configuration.options.maximumConnections = 20
    return configuration
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
