import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("The workspace directory for the suite's services")
struct DirectoryTests {
  static let internalCall: Metadata = [
    "authorization": "Bearer \(ConsoleFixture.internalCredential)"
  ]

  @Test(
    "only callers with the internal credential get in; the workspace read is the same through libpq's pipeline and the pool",
    arguments: [true, false]
  )
  func credential(pipelinedReads: Bool) async throws {
    try await ConsoleFixture.with(pipelinedReads: pipelinedReads) { fixture in
      let created = try await fixture.registerAndCreate()
      let request = Guance_Console_V1_LookupWorkspaceRequest.with {
        $0.workspaceID = created.workspace.id
      }
      let missing = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(request)
      }
      #expect(missing.code == .unauthenticated)
      let wrong = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(
          request,
          metadata: ["authorization": "Bearer guess"]
        )
      }
      #expect(wrong.code == .permissionDenied)
      // A user's session token is no internal credential either.
      let login = try await fixture.login()
      let user = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(
          request,
          metadata: ConsoleFixture.bearer(login.sessionToken)
        )
      }
      #expect(user.code == .permissionDenied)

      let found = try await fixture.directory.lookupWorkspace(request, metadata: Self.internalCall)
      #expect(found.workspace == created.workspace)
      let unknown = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(
          .with { $0.workspaceID = "6b1f0e3c-1d7e-4a55-9a51-3f3d8e0c0001" },
          metadata: Self.internalCall
        )
      }
      #expect(unknown.code == .notFound, "\(unknown)")
    }
  }

  @Test("a workspace is found by the creation key it was made with, and by nothing else with it")
  func byCreationKey() async throws {
    try await ConsoleFixture.with { fixture in
      let created = try await fixture.registerAndCreate(creationKey: "subscription-1/workspace")
      let found = try await fixture.directory.lookupWorkspace(
        .with { $0.creationKey = "subscription-1/workspace" },
        metadata: Self.internalCall
      )
      #expect(found.workspace == created.workspace)
      let unknown = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(
          .with { $0.creationKey = "subscription-2/workspace" },
          metadata: Self.internalCall
        )
      }
      #expect(unknown.code == .notFound)
      // A key looks up on its own: with an id or a session too, the request is refused whole.
      let both = try await #require(throws: RPCError.self) {
        try await fixture.directory.lookupWorkspace(
          .with {
            $0.creationKey = "subscription-1/workspace"
            $0.workspaceID = created.workspace.id
            $0.ownerSessionToken = "token"
          },
          metadata: Self.internalCall
        )
      }
      #expect(both.code == .invalidArgument)
      #expect(Set(both.violatedFields) == ["workspace_id", "owner_session_token"])
    }
  }

  @Test("status changes are recorded, repeatable, and final once closed")
  func statuses() async throws {
    try await ConsoleFixture.with { fixture in
      let created = try await fixture.registerAndCreate()
      func set(
        _ status: Guance_Console_V1_WorkspaceStatus
      ) async throws -> Guance_Console_V1_Workspace {
        try await fixture.directory.setWorkspaceStatus(
          .with {
            $0.workspaceID = created.workspace.id
            $0.status = status
            $0.reason = "subscription suspended"
          },
          metadata: Self.internalCall
        ).workspace
      }
      #expect(try await set(.suspended).status == .suspended)
      #expect(try await set(.suspended).status == .suspended)
      #expect(try await set(.active).status == .active)
      #expect(try await set(.closed).status == .closed)
      let reopen = try await #require(throws: RPCError.self) { try await set(.active) }
      #expect(reopen.code == .failedPrecondition)
      #expect(try await fixture.count("workspace_status_changes") == 3)

      let unspecified = try await #require(throws: RPCError.self) {
        try await fixture.directory.setWorkspaceStatus(
          .with { $0.workspaceID = created.workspace.id },
          metadata: Self.internalCall
        )
      }
      #expect(Set(unspecified.violatedFields) == ["status", "reason"])
    }
  }

  @Test(
    "status changes at once: each is decided on the status it finds locked, so none records a status to itself and none reopens a closed workspace"
  )
  func concurrentStatuses() async throws {
    try await ConsoleFixture.with { fixture in
      let created = try await fixture.registerAndCreate()
      // 40 suspends and a close at once: one suspend changes the status (or none, when the
      // close came first); the close always lands, and after it nothing reopens.
      let outcomes = await withTaskGroup(of: RPCError.Code?.self) { group in
        for index in 0..<41 {
          group.addTask {
            do {
              _ = try await fixture.directory.setWorkspaceStatus(
                .with {
                  $0.workspaceID = created.workspace.id
                  $0.status = index == 20 ? .closed : .suspended
                  $0.reason = "race \(index)"
                },
                metadata: Self.internalCall
              )
              return nil
            } catch {
              return (error as? RPCError)?.code ?? .unknown
            }
          }
        }
        return await group.reduce(into: []) { $0.append($1) }
      }
      #expect(outcomes.allSatisfy { $0 == nil || $0 == .failedPrecondition }, "\(outcomes)")
      let rows = try await fixture.database.query(
        "SELECT from_status, to_status FROM workspace_status_changes ORDER BY id"
      )
      var changes: [String] = []
      for try await (from, to) in rows.decode((String, String).self) {
        #expect(from != to, "a change from \(from) to itself was recorded")
        changes.append("\(from)>\(to)")
      }
      #expect(changes.last?.hasSuffix(">closed") == true, "\(changes)")
      #expect(changes.count <= 2, "\(changes)")
    }
  }
}
