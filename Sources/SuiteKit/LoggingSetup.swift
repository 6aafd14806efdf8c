public import Logging

/// Configures swift-log once per process: one line per event on stderr, level from LOG_LEVEL,
/// text or one JSON object per line from LOG_FORMAT (`JSONLogHandler`), the serving RPC's
/// request id and method on every line logged while serving it.
public enum LoggingSetup {
  public static func bootstrap(config: ConfigReader) throws(ConfigError) -> Logger.Level {
    let text = config.string("LOG_LEVEL", default: "info")
    guard let level = Logger.Level(rawValue: text.lowercased()) else {
      throw .invalid(
        variable: "LOG_LEVEL",
        value: text,
        expected: Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
      )
    }
    let format = config.string("LOG_FORMAT", default: "text").lowercased()
    switch format {
    case "text":
      LoggingSystem.bootstrap(
        { label, metadataProvider in
          var handler = StreamLogHandler.standardError(
            label: label,
            metadataProvider: metadataProvider
          )
          handler.logLevel = level
          return handler
        },
        metadataProvider: RequestContext.metadataProvider
      )
    case "json":
      LoggingSystem.bootstrap(
        { label, metadataProvider in
          var handler = JSONLogHandler(label: label, metadataProvider: metadataProvider)
          handler.logLevel = level
          return handler
        },
        metadataProvider: RequestContext.metadataProvider
      )
    default:
      throw .invalid(variable: "LOG_FORMAT", value: format, expected: "text or json")
    }
    return level
  }
}
