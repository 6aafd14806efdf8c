import AccountAccess
import Foundation
public import Logging
import Mailer
import PostgresNIO
public import PostgresPipeline
public import SuitePersistence

/// `ConsoleStore` on PostgreSQL. Every multi-statement change runs in one transaction.
public struct PostgresConsoleStore: ConsoleStore {
  let database: Database
  let challenges: EmailChallenges
  let logger: Logger
  /// The hottest read, a workspace by id (LookupWorkspace, for every other service), pipelined
  /// through libpq when given (`pipelinedStatements`); through the pool otherwise.
  let pipelinedReads: PipelinedReads?

  public init(database: Database, pipelinedReads: PipelinedReads? = nil, logger: Logger) {
    self.database = database
    self.challenges = EmailChallenges(database: database, logger: logger)
    self.logger = logger
    self.pipelinedReads = pipelinedReads
  }

  /// What `pipelinedReads` must have prepared.
  public static var pipelinedStatements: [PipelinedReads.Statement] { [workspaceByID] }

  /// The console's schema, with the mail outbox, sessions and codes in the same database.
  public static func migrations() throws -> [Migration] {
    return try MailOutbox.migrations() + AccountAccessSchema.migrations()
      + Migration.load(component: "workspace_console", bundle: .module)
  }

}

/// The database answered something the schema rules out.
enum StoreInvariantError: Error {
  case noRowReturned
  case unknownStatus(String)
}
