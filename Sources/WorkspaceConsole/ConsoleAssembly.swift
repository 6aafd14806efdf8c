public import AccountAccess
public import AccountKit
public import GRPCCore
public import Logging
public import PostgresPipeline
public import SuitePersistence

/// The workspace console put together: its domain over its database and the gRPC services
/// that serve it. `workspace-console`'s main serves these services, with its workers and
/// telemetry around them; the tests' fixtures serve the same ones in process, so what is tested
/// is what runs.
public struct ConsoleAssembly: Sendable {
  public let console: GuanceConsole

  /// - Parameter pipelinedReads: prepared with `PostgresConsoleStore.pipelinedStatements`, for
  ///   LookupWorkspace; nil sends every statement through `database`'s pool.
  public init(
    database: Database,
    pipelinedReads: PipelinedReads? = nil,
    hasher: PasswordHasher,
    sessionPolicy: PasswordSessions.Policy = .init(),
    catalog: SiteCatalog = .defaults,
    logger: Logger
  ) {
    console = GuanceConsole(
      store: PostgresConsoleStore(
        database: database,
        pipelinedReads: pipelinedReads,
        logger: logger
      ),
      hasher: hasher,
      sessions: PasswordSessions(
        database: database,
        hasher: hasher,
        policy: sessionPolicy,
        logger: logger
      ),
      challenges: EmailChallenges(database: database, logger: logger),
      catalog: catalog
    )
  }

  /// What anyone may call: accounts, sessions, workspaces.
  public var openServices: [any RegistrableRPCService] {
    [WorkspaceConsoleHandlers(console: console)]
  }

  /// What only the suite's services may call (the internal credential): the workspace directory.
  public var internalServices: [any RegistrableRPCService] {
    [WorkspaceDirectoryHandlers(console: console)]
  }

  /// The services' names, as health reports them.
  /// The service web pages call (Connect, gRPC-Web); the others stay gRPC only.
  public static let browserServices: Set<String> = ["guance.console.v1.WorkspaceConsoleService"]

  public static let serviceNames = [
    "guance.console.v1.WorkspaceConsoleService", "guance.console.v1.WorkspaceDirectoryService",
  ]

  /// The console's schema (its mail outbox, sessions and codes in the same database).
  public static func migrations() throws -> [Migration] {
    try PostgresConsoleStore.migrations()
  }
}
