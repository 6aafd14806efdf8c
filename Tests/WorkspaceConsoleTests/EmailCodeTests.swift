import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Creating a workspace with an emailed code")
struct EmailCodeTests {
  static func sendCode(
    _ fixture: ConsoleFixture,
    to email: String = "alice@example.com"
  )
    async throws -> Guance_Console_V1_SendEmailCodeResponse
  {
    try await fixture.console.sendEmailCode(
      .with {
        $0.email = email
        $0.purpose = .createWorkspace
      }
    )
  }

  static func create(
    _ fixture: ConsoleFixture,
    challenge: String,
    code: String,
    email: String = "alice@example.com",
    name: String = "Second",
    creationKey: String = ""
  ) async throws -> Guance_Console_V1_CreateWorkspaceResponse {
    try await fixture.console.createWorkspace(
      .with {
        $0.workspaceName = name
        $0.language = "zh"
        $0.site = "eu1"
        $0.email = email
        $0.challengeID = challenge
        $0.code = code
        $0.termsAccepted = true
        $0.creationKey = creationKey
      }
    )
  }

  @Test(
    "a retry with the creation key gets the first creation's workspace: the spent code is not asked for again"
  )
  func creationKeyWithCode() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      let challenge = try await Self.sendCode(fixture)
      let code = try await fixture.code(for: "alice@example.com")
      let created = try await Self.create(
        fixture,
        challenge: challenge.challengeID,
        code: code,
        creationKey: "sub-1/ws"
      )
      let retried = try await Self.create(
        fixture,
        challenge: challenge.challengeID,
        code: code,
        creationKey: "sub-1/ws"
      )
      #expect(retried.workspace.id == created.workspace.id)
      #expect(retried.account.id == created.account.id)
      #expect(try await fixture.count("workspaces") == 2)
      // Another owner cannot use the key to learn about this workspace.
      try await fixture.registerAndCreate(username: "bob", email: "bob@example.com")
      let bobs = try await Self.sendCode(fixture, to: "bob@example.com")
      let bobsCode = try await fixture.code(for: "bob@example.com")
      let foreign = try await #require(throws: RPCError.self) {
        try await Self.create(
          fixture,
          challenge: bobs.challengeID,
          code: bobsCode,
          email: "bob@example.com",
          creationKey: "sub-1/ws"
        )
      }
      #expect(foreign.code == .invalidArgument)
      #expect(try await fixture.count("workspaces") == 3)
    }
  }

  @Test(
    "registering again with the creation key returns the account and workspace the first call made"
  )
  func creationKeyWithRegistration() async throws {
    try await ConsoleFixture.with { fixture in
      let first = try await fixture.registerAndCreate(creationKey: "sub-2/ws")
      let again = try await fixture.registerAndCreate(creationKey: "sub-2/ws")
      #expect(again.account.id == first.account.id)
      #expect(again.workspace.id == first.workspace.id)
      #expect(try await fixture.count("accounts") == 1)
      #expect(try await fixture.count("workspaces") == 1)
      // Without the key the same username is taken, as before.
      let taken = try await #require(throws: RPCError.self) {
        try await fixture.registerAndCreate()
      }
      #expect(taken.code == .alreadyExists || taken.code == .invalidArgument)
      // Two at once with one key: one account, one workspace, one answer.
      async let a = fixture.registerAndCreate(
        username: "carol",
        email: "carol@example.com",
        creationKey: "sub-3/ws"
      )
      async let b = fixture.registerAndCreate(
        username: "carol",
        email: "carol@example.com",
        creationKey: "sub-3/ws"
      )
      let (one, two) = try await (a, b)
      #expect(one.workspace.id == two.workspace.id)
      #expect(try await fixture.count("accounts") == 2)
      #expect(try await fixture.count("workspaces") == 2)
    }
  }

  @Test("the mailed code creates a workspace for the existing account, once")
  func createsOnce() async throws {
    try await ConsoleFixture.with { fixture in
      let first = try await fixture.registerAndCreate()
      let challenge = try await Self.sendCode(fixture)
      #expect(challenge.resendAfterSeconds == 60)
      let code = try await fixture.code(for: "alice@example.com")
      let created = try await Self.create(fixture, challenge: challenge.challengeID, code: code)
      #expect(created.account.id == first.account.id)
      #expect(created.workspace.site == "eu1")
      #expect(created.workspace.language == "zh")
      #expect(created.workspace.status == .active)

      let again = try await #require(throws: RPCError.self) {
        try await Self.create(fixture, challenge: challenge.challengeID, code: code, name: "Third")
      }
      #expect(again.code == .failedPrecondition)
      #expect(try await fixture.count("workspaces") == 2)
    }
  }

  @Test("an unknown email gets the same reply and no mail")
  func unknownEmail() async throws {
    try await ConsoleFixture.with { fixture in
      let reply = try await Self.sendCode(fixture, to: "nobody@example.com")
      #expect(!reply.challengeID.isEmpty)
      #expect(reply.resendAfterSeconds == 60)
      #expect(reply.hasExpiresAt)
      try await fixture.mailWorker.drainOnce()
      #expect(fixture.mailbox.messages(to: "nobody@example.com").isEmpty)
      let error = try await #require(throws: RPCError.self) {
        try await Self.create(
          fixture,
          challenge: reply.challengeID,
          code: "123456",
          email: "nobody@example.com"
        )
      }
      #expect(error.code == .invalidArgument)
      #expect(try await fixture.count("workspaces") == 0)
    }
  }

  @Test("five wrong codes lock the challenge, even against the right code")
  func lockout() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      let challenge = try await Self.sendCode(fixture)
      let code = try await fixture.code(for: "alice@example.com")
      let wrong = code == "000000" ? "000001" : "000000"
      var codes: [RPCError.Code] = []
      for _ in 0..<5 {
        do {
          _ = try await Self.create(fixture, challenge: challenge.challengeID, code: wrong)
        } catch let error as RPCError {
          codes.append(error.code)
        }
      }
      #expect(
        codes == [
          .invalidArgument, .invalidArgument, .invalidArgument, .invalidArgument,
          .failedPrecondition,
        ]
      )
      let locked = try await #require(throws: RPCError.self) {
        try await Self.create(fixture, challenge: challenge.challengeID, code: code)
      }
      #expect(locked.code == .failedPrecondition)
      #expect(try await fixture.count("workspaces") == 1)
    }
  }

  @Test("a code is bound to its address, and expires")
  func boundAndExpiring() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      try await fixture.registerAndCreate(username: "bob", email: "bob@example.com")
      let challenge = try await Self.sendCode(fixture)
      let code = try await fixture.code(for: "alice@example.com")
      let otherAddress = try await #require(throws: RPCError.self) {
        try await Self.create(
          fixture,
          challenge: challenge.challengeID,
          code: code,
          email: "bob@example.com"
        )
      }
      #expect(otherAddress.code == .notFound)

      try await fixture.database.query(
        "UPDATE email_challenges SET expires_at = now() - interval '1 second'"
      )
      let expired = try await #require(throws: RPCError.self) {
        try await Self.create(fixture, challenge: challenge.challengeID, code: code)
      }
      #expect(expired.code == .failedPrecondition)
      #expect(try await fixture.count("workspaces") == 2)
    }
  }

  @Test("codes are not resent within a minute")
  func resendThrottle() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      _ = try await Self.sendCode(fixture)
      let error = try await #require(throws: RPCError.self) { try await Self.sendCode(fixture) }
      #expect(error.code == .resourceExhausted)
      #expect(error.googleDetails.contains { $0.retryInfo != nil })
      try await fixture.mailWorker.drainOnce()
      #expect(fixture.mailbox.messages(to: "alice@example.com").count == 1)
    }
  }

  @Test("a request without purpose or with a malformed challenge is refused")
  func badRequests() async throws {
    try await ConsoleFixture.with { fixture in
      let noPurpose = try await #require(throws: RPCError.self) {
        try await fixture.console.sendEmailCode(.with { $0.email = "alice@example.com" })
      }
      #expect(noPurpose.violatedFields == ["purpose"])
      let malformed = try await #require(throws: RPCError.self) {
        try await Self.create(fixture, challenge: "nope", code: "12")
      }
      #expect(Set(malformed.violatedFields) == ["challenge_id", "code"])
      let unknown = try await #require(throws: RPCError.self) {
        try await Self.create(
          fixture,
          challenge: "6b1f0e3c-1d7e-4a55-9a51-3f3d8e0c0001",
          code: "123456"
        )
      }
      #expect(unknown.code == .notFound)
      #expect(try await fixture.count("email_challenges") == 0)
    }
  }

  @Test("of concurrent code requests for one address, exactly one is sent")
  func concurrentRequests() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate()
      let successes = try await withThrowingTaskGroup(of: Bool.self) { group in
        for _ in 0..<10 {
          group.addTask { (try? await Self.sendCode(fixture)) != nil }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(successes == 1)
      #expect(try await fixture.count("email_challenges") == 1)
      #expect(try await fixture.count("mail_outbox") == 1)
    }
  }
}
