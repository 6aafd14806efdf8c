import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Registering Guance accounts")
struct RegistrationTests {
  @Test("an account is registered with normalised fields")
  func registers() async throws {
    try await ConsoleFixture.with { fixture in
      let reply = try await fixture.console.registerAccount(
        .with {
          $0.username = "Alice.Smith"
          $0.password = ConsoleFixture.password
          $0.email = " Alice@Example.COM "
          $0.phone = "+1 415 555 0100"
        }
      )
      #expect(reply.account.username == "alice.smith")
      #expect(reply.account.email == "alice@example.com")
      #expect(reply.account.phone == "+14155550100")
      let login = try await fixture.login("ALICE@example.com")
      let account = try await fixture.console.getAccount(
        .init(),
        metadata: ConsoleFixture.bearer(login.sessionToken)
      )
      #expect(account.account == reply.account)
    }
  }

  @Test("bad input names every bad field and writes nothing")
  func badInput() async throws {
    try await ConsoleFixture.with { fixture in
      let error = try await #require(throws: RPCError.self) {
        try await fixture.console.registerAccount(
          .with {
            $0.username = "a!"
            $0.password = "password"
            $0.email = "not-an-email"
            $0.phone = "12345"
          }
        )
      }
      #expect(error.code == .invalidArgument)
      #expect(Set(error.violatedFields) == ["username", "password", "email", "phone"])
      #expect(try await fixture.count("accounts") == 0)
    }
  }

  @Test("usernames and emails are unique, case-insensitively")
  func duplicates() async throws {
    try await ConsoleFixture.with { fixture in
      try await fixture.registerAndCreate(username: "alice", email: "alice@example.com")
      let sameName = try await #require(throws: RPCError.self) {
        try await fixture.registerAndCreate(username: "ALICE", email: "other@example.com")
      }
      #expect(sameName.code == .alreadyExists)
      #expect(sameName.violatedFields == ["username"])
      let sameEmail = try await #require(throws: RPCError.self) {
        try await fixture.registerAndCreate(username: "bob", email: "Alice@EXAMPLE.com")
      }
      #expect(sameEmail.code == .alreadyExists)
      #expect(sameEmail.violatedFields == ["email"])
      // All or nothing: the refused registrations left no account and no workspace behind.
      #expect(try await fixture.count("accounts") == 1)
      #expect(try await fixture.count("workspaces") == 1)
    }
  }

  @Test("of concurrent registrations of one username, exactly one succeeds")
  func concurrentRegistrations() async throws {
    try await ConsoleFixture.with { fixture in
      let outcomes = try await withThrowingTaskGroup(of: RPCError.Code?.self) { group in
        for index in 0..<8 {
          group.addTask {
            do {
              try await fixture.registerAndCreate(
                username: "racer",
                email: "racer\(index)@example.com"
              )
              return nil
            } catch let error as RPCError {
              return error.code
            }
          }
        }
        return try await group.reduce(into: [RPCError.Code?]()) { $0.append($1) }
      }
      #expect(outcomes.filter { $0 == nil }.count == 1)
      #expect(outcomes.compactMap { $0 }.allSatisfy { $0 == .alreadyExists })
      #expect(try await fixture.count("accounts") == 1)
      #expect(try await fixture.count("workspaces") == 1)
    }
  }

  @Test("of concurrent registrations of one email, exactly one succeeds")
  func concurrentEmails() async throws {
    try await ConsoleFixture.with { fixture in
      let successes = try await withThrowingTaskGroup(of: Bool.self) { group in
        for index in 0..<8 {
          group.addTask {
            (try? await fixture.registerAndCreate(
              username: "user\(index)",
              email: "Same@Example.com"
            )) != nil
          }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(successes == 1)
      #expect(try await fixture.count("accounts") == 1)
    }
  }

  @Test("register-and-create checks the workspace, the confirmation and the terms")
  func registerAndCreateValidation() async throws {
    try await ConsoleFixture.with { fixture in
      let error = try await #require(throws: RPCError.self) {
        try await fixture.console.registerAndCreateWorkspace(
          .with {
            $0.workspaceName = "  "
            $0.language = "fr"
            $0.site = "mars1"
            $0.username = "alice"
            $0.password = ConsoleFixture.password
            $0.passwordConfirmation = "something else entirely"
            $0.email = "alice@example.com"
            $0.termsAccepted = false
          }
        )
      }
      #expect(error.code == .invalidArgument)
      #expect(
        Set(error.violatedFields)
          == ["workspace_name", "language", "site", "password_confirmation", "terms_accepted"]
      )
      #expect(try await fixture.count("accounts") == 0)
    }
  }

  @Test("the sites and languages come from the catalog")
  func sites() async throws {
    try await ConsoleFixture.with { fixture in
      let reply = try await fixture.console.listSites(.init())
      #expect(reply.sites.map(\.code).contains("us1"))
      #expect(Set(reply.languages.map(\.code)).isSuperset(of: ["en", "zh"]))
    }
  }
}
