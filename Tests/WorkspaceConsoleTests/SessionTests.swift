import AccountAccess
import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing
import WorkspaceConsole

@Suite("Console sessions and who sees which workspace")
struct SessionTests {
  @Test("login by username or email opens a session that logout ends")
  func loginLogout() async throws {
    try await ConsoleFixture.with { fixture in
      let created = try await fixture.registerAndCreate()
      let byName = try await fixture.login("alice")
      #expect(byName.workspaces.map(\.id) == [created.workspace.id])
      #expect(byName.sessionToken.count == 43)
      let byEmail = try await fixture.login("Alice@Example.com")
      #expect(byEmail.sessionToken != byName.sessionToken)

      let session = try await fixture.console.getSession(
        .init(),
        metadata: ConsoleFixture.bearer(byName.sessionToken)
      )
      #expect(session.account.username == "alice")
      #expect(session.expiresAt.date > session.createdAt.date)

      _ = try await fixture.console.logout(
        .init(),
        metadata: ConsoleFixture.bearer(byName.sessionToken)
      )
      let afterLogout = try await #require(throws: RPCError.self) {
        try await fixture.console.listWorkspaces(
          .init(),
          metadata: ConsoleFixture.bearer(byName.sessionToken)
        )
      }
      #expect(afterLogout.code == .unauthenticated)
      // The other session is untouched.
      _ = try await fixture.console.listWorkspaces(
        .init(),
        metadata: ConsoleFixture.bearer(byEmail.sessionToken)
      )
    }
  }

  @Test("a wrong password and an unknown user get the same answer")
  func sameAnswer() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      let wrong = try await #require(throws: RPCError.self) {
        try await fixture.login("alice", password: "not the password at all")
      }
      let unknown = try await #require(throws: RPCError.self) {
        try await fixture.login("mallory", password: "not the password at all")
      }
      #expect(wrong.code == .unauthenticated)
      #expect(unknown.code == wrong.code)
      #expect(unknown.message == wrong.message)
    }
  }

  @Test(
    "a login holding U+0000 is INVALID_ARGUMENT on its field and records no failure (it answered INTERNAL)"
  )
  func unstorableLogin() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      let error = try await #require(throws: RPCError.self) {
        try await fixture.login("ali\u{0}ce")
      }
      #expect(error.code == .invalidArgument)
      let violations = try error.unpackGoogleRPCStatus()?.details.compactMap(\.badRequest).first?
        .violations
      #expect(violations?.map(\.field) == ["login"])
      #expect(try await fixture.count("login_failures") == 0)
      _ = try await fixture.login("alice")
    }
  }

  @Test("failed logins are throttled per account, even for the right password")
  func throttled() async throws {
    var policy = PasswordSessions.Policy()
    policy.maxFailuresPerLoginPerHour = 3
    try await ConsoleFixture.with(policy: policy) { fixture in
      try await fixture.registerAndCreate()
      for _ in 0..<3 {
        _ = try? await fixture.login("alice", password: "not the password at all")
      }
      let error = try await #require(throws: RPCError.self) { try await fixture.login("alice") }
      #expect(error.code == .resourceExhausted)
      // Another account from the same peer is not affected.
      try await fixture.registerAndCreate(username: "bob", email: "bob@example.com")
      _ = try await fixture.login("bob")
    }
  }

  @Test("account-scoped RPCs need a live session")
  func needsSession() async throws {
    try await ConsoleFixture.with { fixture in
      for metadata: Metadata in [
        [:], ConsoleFixture.bearer("garbage"), ["authorization": "Basic abc"],
      ] {
        let error = try await #require(throws: RPCError.self) {
          try await fixture.console.listWorkspaces(.init(), metadata: metadata)
        }
        #expect(error.code == .unauthenticated)
      }
      try await fixture.registerAndCreate()
      let login = try await fixture.login()
      try await fixture.database.query(
        "UPDATE sessions SET last_seen_at = now() - interval '31 minutes'"
      )
      let idle = try await #require(throws: RPCError.self) {
        try await fixture.console.getSession(
          .init(),
          metadata: ConsoleFixture.bearer(login.sessionToken)
        )
      }
      #expect(idle.code == .unauthenticated)
    }
  }

  @Test("another account's workspace is not found, not forbidden")
  func isolation() async throws {
    try await ConsoleFixture.with { fixture in
      let alice = try await fixture.registerAndCreate()
      let bob = try await fixture.registerAndCreate(username: "bob", email: "bob@example.com")
      let bobLogin = try await fixture.login("bob")
      let metadata = ConsoleFixture.bearer(bobLogin.sessionToken)

      let own = try await fixture.console.getWorkspace(
        .with { $0.workspaceID = bob.workspace.id },
        metadata: metadata
      )
      #expect(own.workspace == bob.workspace)
      let foreign = try await #require(throws: RPCError.self) {
        try await fixture.console.getWorkspace(
          .with { $0.workspaceID = alice.workspace.id },
          metadata: metadata
        )
      }
      #expect(foreign.code == .notFound)
      #expect(foreign.missingResource?.type == "workspace")
      let malformed = try await #require(throws: RPCError.self) {
        try await fixture.console.getWorkspace(.with { $0.workspaceID = "x" }, metadata: metadata)
      }
      #expect(malformed.code == .invalidArgument)
      let list = try await fixture.console.listWorkspaces(.init(), metadata: metadata)
      #expect(list.workspaces.map(\.id) == [bob.workspace.id])
    }
  }
}
