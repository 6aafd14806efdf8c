public import SuiteRuntime

/// The settings every service of the suite reads the same way: where its gRPC server
/// listens, its own database, the internal credential and the optional ready file.
public struct ServiceBasics: Sendable {
  public var server: ServerSettings
  public var database: DatabaseURL
  public var internalCredential: String
  public var readyFile: String?

  public init(config: ConfigReader, defaultPort: Int) throws(ConfigError) {
    server = try ServerSettings(config: config, defaultPort: defaultPort)
    database = try DatabaseURL(try config.required("DATABASE_URL"))
    internalCredential = try config.required("INTERNAL_CREDENTIAL")
    readyFile = config.optional("READY_FILE")
  }
}
