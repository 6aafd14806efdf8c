import AccountAccess
import AccountKit
import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import GuanceContracts
import Logging
import Mailer
import PostgresNIO
import PostgresPipeline
import SuitePersistence
import SuiteTesting
import SwiftProtobuf

@testable import WorkspaceConsole

/// A console served in process over a fresh migrated database, with its mail drained into a
/// development mailbox of its own.
struct ConsoleFixture: Sendable {
  typealias Client = Guance_Console_V1_WorkspaceConsoleService.Client<InProcessTransport.Client>
  typealias Directory = Guance_Console_V1_WorkspaceDirectoryService.Client<
    InProcessTransport.Client
  >

  static let hasher = PasswordHasher(workers: 2, maxQueued: 1000)
  static let internalCredential = "test-internal-credential"

  let console: Client
  /// The same server, for calls with raw bodies (`RequestFuzzer`).
  let rpc: GRPCClient<InProcessTransport.Client>
  let directory: Directory
  let database: Database
  let mailbox: DevelopmentMailboxReader
  let mailWorker: MailOutboxWorker

  /// Runs `body` against a fresh console; its workspace reads pipelined through libpq, as the
  /// service runs by default, or with `pipelinedReads` false through the pool.
  static func with(
    policy: PasswordSessions.Policy = PasswordSessions.Policy(),
    pipelinedReads: Bool = true,
    _ body: @Sendable (ConsoleFixture) async throws -> Void
  ) async throws {
    try await TestDatabase.withMigratedDatabase(ConsoleAssembly.migrations()) { url, database in
      let logger = Logger(label: "console-test")
      let reads =
        pipelinedReads
        ? PipelinedReads(
          url: url,
          statements: PostgresConsoleStore.pipelinedStatements,
          connections: 1,
          logger: logger
        ) : nil
      defer { reads?.close() }
      let assembly = ConsoleAssembly(
        database: database,
        pipelinedReads: reads,
        hasher: hasher,
        sessionPolicy: policy,
        logger: logger
      )
      let mailDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mailbox-\(UUID().uuidString)")
      defer { try? FileManager.default.removeItem(at: mailDirectory) }
      let worker = MailOutboxWorker(
        database: database,
        sender: try DevelopmentMailbox(
          directory: mailDirectory,
          sender: "test@guance.local",
          logger: logger
        ),
        logger: logger
      )
      try await withInProcessServer(
        open: assembly.openServices,
        internal: assembly.internalServices,
        internalCredential: internalCredential
      ) { client in
        try await body(
          ConsoleFixture(
            console: Client(wrapping: client),
            rpc: client,
            directory: Directory(wrapping: client),
            database: database,
            mailbox: DevelopmentMailboxReader(directory: mailDirectory),
            mailWorker: worker
          )
        )
      }
    }
  }

  /// Delivers queued mail and reads the newest code sent to `email`.
  func code(for email: String, skipping earlier: Int = 0) async throws -> String {
    try await mailWorker.drainOnce()
    return try await mailbox.code(for: email, skipping: earlier)
  }

  /// Rows in `table`, to prove that a refused request wrote nothing.
  func count(_ table: String) async throws -> Int {
    let rows = try await database.query(
      PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)")
    )
    for try await count in rows.decode(Int.self) { return count }
    return 0
  }

  static func bearer(_ token: String) -> Metadata { ["authorization": "Bearer \(token)"] }

  // MARK: Common steps

  static let password = "correct horse battery"

  @discardableResult
  func registerAndCreate(
    username: String = "alice",
    email: String = "alice@example.com",
    workspace: String = "Ops",
    site: String = "us1",
    creationKey: String = ""
  ) async throws -> Guance_Console_V1_RegisterAndCreateWorkspaceResponse {
    try await console.registerAndCreateWorkspace(
      .with {
        $0.workspaceName = workspace
        $0.language = "en"
        $0.site = site
        $0.username = username
        $0.password = Self.password
        $0.passwordConfirmation = Self.password
        $0.email = email
        $0.termsAccepted = true
        $0.creationKey = creationKey
      }
    )
  }

  func login(
    _ login: String = "alice",
    password: String = ConsoleFixture.password
  ) async throws
    -> Guance_Console_V1_LoginResponse
  {
    try await console.login(
      .with {
        $0.login = login
        $0.password = password
      }
    )
  }
}
