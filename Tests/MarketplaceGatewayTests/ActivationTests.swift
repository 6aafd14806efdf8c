import AccountKit
import Foundation
import GRPCCore
import GRPCInProcessTransport
import GRPCProtobuf
import GuanceContracts
import Logging
import MarketplaceClient
import MarketplaceGateway
import NIOCore
import NIOHTTP1
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Synchronization
import Testing

/// A billing center that knows the links the test gives it (a hand-written fake).
final class FakeBillingDirectory: BillingDirectory {
  private let links = Mutex<[String: LinkedBillingAccount]>([:])

  func link(tenantID: String, objectID: String, to account: LinkedBillingAccount) {
    links.withLock { $0["\(tenantID)/\(objectID)"] = account }
  }

  func linkedAccount(tenantID: String, objectID: String) async throws -> LinkedBillingAccount? {
    links.withLock { $0["\(tenantID)/\(objectID)"] }
  }

  func workspaces(of billingAccountID: UUID) async throws -> [BindableWorkspace] {
    [BindableWorkspace(id: "w-1", name: "Ops", site: "us1", status: "active")]
  }

  /// Every username exists here; the code is always 123456.
  func startBinding(username: String) async throws -> BindingChallenge {
    BindingChallenge(
      challengeID: "challenge-\(username)",
      maskedEmail: "\(username.prefix(1))***@example.com",
      resendAfterSeconds: 60
    )
  }

  func confirmBinding(
    challengeID: String,
    code: String,
    username: String,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws -> LinkedBillingAccount {
    guard code == "123456", challengeID == "challenge-\(username)" else {
      throw RPCError(code: .invalidArgument, message: "the verification code is wrong")
    }
    let account = LinkedBillingAccount(id: UUID(), username: username)
    link(tenantID: tenantID, objectID: objectID, to: account)
    return account
  }

  /// How many billing center accounts were registered.
  let registered = Mutex(0)
  /// Like the real one, a creation key seen before gets the account it registered.
  private let byCreationKey = Mutex<[String: LinkedBillingAccount]>([:])

  /// The next registration goes through but its answer is lost (the caller sees UNAVAILABLE).
  let loseNextRegistration = Mutex(false)

  func register(
    _ account: NewAccount,
    company: CompanyInformation,
    creationKey: String
  ) async throws
    -> LinkedBillingAccount
  {
    let made = byCreationKey.withLock { known in
      if let earlier = known[creationKey] { return earlier }
      registered.withLock { $0 += 1 }
      let fresh = LinkedBillingAccount(id: UUID(), username: account.username.lowercased())
      known[creationKey] = fresh
      return fresh
    }
    if loseNextRegistration.withLock({ lose in
      defer { lose = false }; return lose
    }) {
      throw DependencyUnavailable(service: "billing center", reason: "the answer was lost")
    }
    return made
  }

  func link(
    billingAccountID: UUID,
    tenantID: String,
    objectID: String,
    subscriptionID: String
  ) async throws {
    let registered = byCreationKey.withLock { $0.values.first { $0.id == billingAccountID } }
    link(
      tenantID: tenantID,
      objectID: objectID,
      to: registered ?? LinkedBillingAccount(id: billingAccountID, username: "registered")
    )
  }

  /// Settles anything but this workspace, unless told the billing center is down.
  let down = Mutex(false)
  static let foreignWorkspace = UUID()

  func settle(
    workspaceID: UUID,
    origin: WorkspaceOrigin,
    billingAccountID: UUID,
    subscriptionID: String,
    purchaser: MarketplaceIdentity
  ) async throws -> BoundWorkspace {
    if down.withLock({ $0 }) {
      throw DependencyUnavailable(service: "billing center", reason: "test")
    }
    if workspaceID == Self.foreignWorkspace {
      throw RPCError(code: .notFound, message: "workspace is not bound to this billing account")
    }
    return BoundWorkspace(id: workspaceID, name: "Ops", site: "us1")
  }
}

/// A console that creates every workspace it is asked for and counts them; like the real one,
/// a creation key seen before gets the same workspace again. A creation of a workspace named
/// "Held" says so on `creationsStarted` and waits for `releaseCreation()`, so a test decides
/// what happens while it is under way (no sleeping in the hope that the other call comes in time).
final class FakeConsoleDirectory: ConsoleDirectory {
  let created = Mutex(0)
  let creationsStarted = AsyncStream.makeStream(of: Void.self)
  private let releases = AsyncStream.makeStream(of: Void.self)

  /// Lets one held creation go on.
  func releaseCreation() { releases.continuation.yield() }

  /// Lets every held creation go on, now and later (the fixture's end: nothing is left waiting).
  func releaseAll() { releases.continuation.finish() }

  /// Waits for the next held creation to start; false if none did within the test's patience
  /// (the call failed before it got here).
  func nextCreationStarted() async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
      group.addTask {
        var started = self.creationsStarted.stream.makeAsyncIterator()
        return await started.next() != nil
      }
      group.addTask {
        try? await Task.sleep(for: .testPatience)
        return false
      }
      defer { group.cancelAll() }
      return await group.next() ?? false
    }
  }
  let byCreationKey = Mutex<[String: BoundWorkspace]>([:])
  /// The next creation goes through but its reply is lost (the caller sees UNAVAILABLE).
  let loseNextReply = Mutex(false)
  /// The next creation finds the console unreachable and creates nothing.
  let unreachableForNext = Mutex(false)

  func workspace(createdWith creationKey: String) async throws -> BoundWorkspace? {
    byCreationKey.withLock { $0[creationKey] }
  }

  /// The console's default sites and languages.
  func siteCatalogue() async throws -> SiteCatalogue {
    SiteCatalogue(sites: ["us1", "eu1", "ap1", "cn1"], languages: ["en", "zh"])
  }

  /// A new challenge each time, as the console makes them.
  func sendWorkspaceEmailCode(email: String) async throws -> WorkspaceEmailCode {
    WorkspaceEmailCode(
      challengeID: UUID().uuidString.lowercased(),
      expiresAt: Date().addingTimeInterval(600),
      resendAfterSeconds: 60
    )
  }

  func createWorkspace(
    _ workspace: NewWorkspace,
    owner: WorkspaceOwner,
    ownerFields: String,
    termsAccepted: Bool,
    creationKey: String
  ) async throws -> BoundWorkspace {
    if unreachableForNext.withLock({ down in
      defer { down = false }; return down
    }) {
      throw DependencyUnavailable(service: "workspace console", reason: "test")
    }
    if workspace.name == "Held" {
      creationsStarted.continuation.yield()
      var released = releases.stream.makeAsyncIterator()
      await released.next()
    }
    let made = byCreationKey.withLock { known in
      if let earlier = known[creationKey] { return earlier }
      created.withLock { $0 += 1 }
      let fresh = BoundWorkspace(id: UUID(), name: workspace.name, site: workspace.site)
      known[creationKey] = fresh
      return fresh
    }
    if loseNextReply.withLock({ lose in
      defer { lose = false }; return lose
    }) {
      throw RPCError(code: .unavailable, message: "the reply was lost")
    }
    return made
  }
}

@Suite("Resolving activations", .startsServices)
struct ActivationTests {
  typealias Client = Guance_Gateway_V1_ActivationService.Client<InProcessTransport.Client>

  struct Fixture {
    let client: Client
    /// The same server, for calls with raw bodies (`RequestFuzzer`).
    let rpc: GRPCClient<InProcessTransport.Client>
    let emulator: EmulatorProcess
    let billing: FakeBillingDirectory
    let console: FakeConsoleDirectory
    let store: GatewayStore
    let reconciler: ActivationReconciler
    let database: Database
    /// The test process's presence: what the sagas and creations it runs are marked with.
    let presence: Presence

    /// Time passes for the sagas: every retry waiting its delay is due now. Tests that check a
    /// delay use a long one and move time here instead of sleeping through it.
    func passRetryDelays() async throws {
      _ = try await database.query(
        "UPDATE activation_sagas SET next_attempt_at = now() WHERE next_attempt_at > now()"
      )
    }

    /// The subscription's marketplace status as the lifecycle records it.
    func recordMarketplaceStatus(_ subscriptionID: String, _ status: String) async throws {
      _ = try await database.query(
        "UPDATE marketplace_subscriptions SET marketplace_status = \(status) WHERE id = \(subscriptionID)"
      )
    }

    /// Every claim to create a workspace has run out, as if its holder had taken too long.
    func expireCreationClaims() async throws {
      _ = try await database.query(
        "UPDATE workspace_creation_claims SET claimed_until = now() - interval '1 second'"
      )
    }

    /// How long the subscription's saga still waits for its next attempt, by the database's clock.
    func retryWait(_ subscriptionID: String) async throws -> Duration {
      let rows = try await database.query(
        """
        SELECT extract(epoch FROM next_attempt_at - now())::float8 FROM activation_sagas
        WHERE subscription_id = \(subscriptionID)
        """
      )
      for try await seconds in rows.decode(Double.self) { return .seconds(seconds) }
      return .zero
    }
  }

  /// `retryDelay`: the saga's first retry delay (doubled per retry); `lease`: how long a runner
  /// holds a saga or a workspace creation.
  static func with(
    retryDelay: Duration = .seconds(1),
    lease: Duration = .seconds(30),
    registrationsAtOnce: Int = 8,
    _ body: @escaping @Sendable (Fixture) async throws -> Void
  ) async throws {
    try await EmulatorProcess.with { emulator in
      try await TestDatabase.withMigratedDatabase(GatewayAssembly.migrations()) { _, database in
        let logger = Logger(label: "gateway-test")
        let store = GatewayStore(database: database, logger: logger)
        let billing = FakeBillingDirectory()
        let console = FakeConsoleDirectory()
        let marketplace = emulator.client(timeout: .testPatience)
        try await TestDatabase.withPresence(database) { presence in
          let assembly = ActivationAssembly(
            store: store,
            presence: presence,
            marketplace: marketplace,
            billing: billing,
            console: console,
            sagaSettings: .init(
              lease: lease,
              retryDelay: retryDelay,
              maxRetryDelay: max(retryDelay * 16, .seconds(300))
            ),
            consoleLoginURL: "http://console.test/login",
            registrationsAtOnce: registrationsAtOnce,
            logger: logger
          )
          try await withInProcessServer(open: assembly.openServices) {
            client in
            // Held creations go on before the server shuts down, which waits for them.
            defer { console.releaseAll() }
            try await body(
              Fixture(
                client: Client(wrapping: client),
                rpc: client,
                emulator: emulator,
                billing: billing,
                console: console,
                store: store,
                reconciler: ActivationReconciler(activations: assembly.activations, logger: logger),
                database: database,
                presence: presence
              )
            )
          }
        }
      }
    }
  }

  @Test("a new purchaser gets a session on the not-linked branch, and nothing is activated")
  func notLinked() async throws {
    try await Self.with { fixture in
      let purchase = try await fixture.emulator.purchase()
      let resolved = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = purchase.token }
      ).activation
      #expect(resolved.state == .needsBillingAccount)
      #expect(resolved.branch == .notLinked)
      #expect(resolved.nextSteps == [.registerAndActivate, .startBillingAccountBinding])
      #expect(resolved.subscription.subscriptionID == purchase.id)
      #expect(resolved.subscription.marketplaceStatus == "PendingFulfillmentStart")
      #expect(resolved.sessionID.count == 43)

      let fetched = try await fixture.client.getActivation(
        .with { $0.sessionID = resolved.sessionID }
      ).activation
      #expect(fetched.subscription == resolved.subscription)
      #expect(fetched.state == .needsBillingAccount)
      #expect(
        try await fixture.store.auditTrail(subscriptionID: purchase.id) == [
          "subscription_recorded", "session_opened",
        ]
      )
      let activations = try await fixture.emulator.request(
        .GET,
        "/admin/subscriptions/\(purchase.id)/activations"
      )
      #expect((activations.json as? [String: Any])?["activations"] as? Int == 0)
    }
  }

  @Test("a purchaser whose cloud account is linked goes straight to the workspace step")
  func alreadyLinked() async throws {
    try await Self.with { fixture in
      let purchase = try await fixture.emulator.purchase(
        #"{"purchaser": {"emailId": "ops@contoso.example", "objectId": "OBJ-1", "tenantId": "TEN-1", "puid": ""}}"#
      )
      let account = LinkedBillingAccount(id: UUID(), username: "contoso")
      fixture.billing.link(tenantID: "ten-1", objectID: "obj-1", to: account)
      // A space where the browser ate a '+': still the same token.
      let mangled = purchase.token.replacingOccurrences(of: "+", with: " ")
      let resolved = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = mangled }
      ).activation
      #expect(resolved.state == .needsWorkspace)
      #expect(resolved.branch == .alreadyLinked)
      #expect(resolved.billingAccountUsername == "contoso")
      #expect(resolved.nextSteps == [.createWorkspace, .bindWorkspace])
    }
  }

  @Test("an activated subscription resolves as activated, with login next")
  func alreadyActive() async throws {
    try await Self.with { fixture in
      let purchase = try await fixture.emulator.purchase()
      let token = try await fixture.emulator.accessToken()
      _ = try await fixture.emulator.request(
        .POST,
        "/api/saas/subscriptions/\(purchase.id)/activate?api-version=2018-08-31",
        token: token,
        body: #"{"planId": "commercial"}"#
      )
      let resolved = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = purchase.token }
      ).activation
      #expect(resolved.state == .activated)
      #expect(resolved.nextSteps == [.logIn])
      // Resolving again opens another session, records no second subscription.
      _ = try await fixture.client.resolveActivation(.with { $0.marketplaceToken = purchase.token })
      #expect(
        try await fixture.store.auditTrail(subscriptionID: purchase.id)
          == ["subscription_recorded", "session_opened", "session_opened"]
      )
    }
  }

  @Test("bad tokens and unknown sessions get clear errors; a marketplace outage is UNAVAILABLE")
  func refusals() async throws {
    try await Self.with { fixture in
      let invalid = try await #require(throws: RPCError.self) {
        try await fixture.client.resolveActivation(.with { $0.marketplaceToken = "not-a-token" })
      }
      #expect(invalid.code == .invalidArgument)
      #expect(invalid.violatedFields == ["marketplace_token"])
      #expect(invalid.message.contains("Configure account"))
      let empty = try await #require(throws: RPCError.self) {
        try await fixture.client.resolveActivation(.init())
      }
      #expect(empty.code == .invalidArgument)
      // A token the HTTP client could not send is a bad link at once, not an outage after retries.
      for mangled in ["abc\u{0}def", "abc\r\ndef", "abc\ndef", "abc\u{7F}"] {
        let refused = try await #require(throws: RPCError.self) {
          try await fixture.client.resolveActivation(.with { $0.marketplaceToken = mangled })
        }
        #expect(refused.code == .invalidArgument, "\(mangled.debugDescription)")
        #expect(refused.violatedFields == ["marketplace_token"])
      }
      for session in ["", "short", String(repeating: "A", count: 43)] {
        let unknown = try await #require(throws: RPCError.self) {
          try await fixture.client.getActivation(.with { $0.sessionID = session })
        }
        #expect(unknown.code == .notFound)
      }
      let purchase = try await fixture.emulator.purchase()
      #expect(
        try await fixture.emulator.request(
          .POST,
          "/admin/faults",
          body: #"{"count": 20, "status": 503}"#
        ).status == 204
      )
      let down = try await #require(throws: RPCError.self) {
        try await fixture.client.resolveActivation(.with { $0.marketplaceToken = purchase.token })
      }
      #expect(down.code == .unavailable)
    }
  }

  @Test("the bind branch: a code, then the workspace step; each step only in its state")
  func bindBranch() async throws {
    try await Self.with { fixture in
      let purchase = try await fixture.emulator.purchase()
      let session = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = purchase.token }
      ).activation.sessionID
      let tooEarly = try await #require(throws: RPCError.self) {
        try await fixture.client.listBindableWorkspaces(.with { $0.sessionID = session })
      }
      #expect(tooEarly.code == .failedPrecondition)
      let early = try await #require(throws: RPCError.self) {
        try await fixture.client.confirmBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.code = "123456"
          }
        )
      }
      #expect(early.code == .failedPrecondition)
      #expect(early.preconditionTypes == ["ACTIVATION_STATE"])

      let started = try await fixture.client.startBillingAccountBinding(
        .with {
          $0.sessionID = session
          $0.billingUsername = "Contoso"
        }
      )
      #expect(started.maskedEmail == "c***@example.com")
      #expect(started.activation.nextSteps.contains(.confirmBillingAccountBinding))
      let wrong = try await #require(throws: RPCError.self) {
        try await fixture.client.confirmBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.code = "000000"
          }
        )
      }
      #expect(wrong.code == .invalidArgument)
      let confirmed = try await fixture.client.confirmBillingAccountBinding(
        .with {
          $0.sessionID = session
          $0.code = "123456"
        }
      ).activation
      #expect(confirmed.state == .needsWorkspace)
      #expect(confirmed.billingAccountUsername == "contoso")
      #expect(confirmed.nextSteps == [.createWorkspace, .bindWorkspace])
      // Sent again after its answer was lost: the activation as it stands, not a refusal.
      let repeated = try await fixture.client.confirmBillingAccountBinding(
        .with {
          $0.sessionID = session
          $0.code = "123456"
        }
      ).activation
      #expect(repeated.state == .needsWorkspace)
      #expect(repeated.billingAccountUsername == "contoso")
      let bindable = try await fixture.client.listBindableWorkspaces(
        .with { $0.sessionID = session }
      )
      #expect(bindable.workspaces.map(\.name) == ["Ops"])
      let again = try await #require(throws: RPCError.self) {
        try await fixture.client.startBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.billingUsername = "contoso"
          }
        )
      }
      #expect(again.code == .failedPrecondition)
      #expect(
        try await fixture.store.auditTrail(subscriptionID: purchase.id)
          == [
            "subscription_recorded", "session_opened", "binding_code_sent", "billing_account_bound",
          ]
      )
    }
  }
}
