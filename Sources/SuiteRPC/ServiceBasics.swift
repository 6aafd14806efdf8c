public import SuiteKit
public import SuiteTransport

/// The settings every service of the suite reads the same way: where its gRPC server
/// listens (and its TLS), the internal credential, the optional ready file and TLS for its
/// clients of the other services. (Its database, `DATABASE_URL`, each reads beside these.)
public struct ServiceBasics: Sendable {
  public var server: ServerSettings
  public var internalCredential: String
  public var readyFile: String?
  /// How this service's clients reach the other services (nil: plaintext).
  public var clientTLS: ClientTLS?

  public init(config: ConfigReader, defaultPort: Int) throws(ConfigError) {
    server = try ServerSettings(config: config, defaultPort: defaultPort)
    internalCredential = try config.required("INTERNAL_CREDENTIAL")
    readyFile = config.optional("READY_FILE")
    clientTLS = try ClientTLS(config: config)
  }
}
