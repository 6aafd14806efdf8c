import Foundation
import GRPCCore
import GuanceContracts
import MarketplaceGateway
import NIOHTTP1
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Synchronization
import Testing

/// Every call that changes an activation, sent again with the same session and inputs after
/// the first was interrupted (the console, the billing center or the marketplace failing at
/// its step, or the answer lost): it carries on and the activation completes once. And work
/// whose process died is taken over at once, not when a lease runs out.
@Suite("Activation calls sent again", .startsServices)
struct ActivationRetryTests {
  typealias Fixture = ActivationTests.Fixture

  /// A new purchaser's session and the RegisterAndActivate a page would send for it.
  static func registration(
    _ fixture: Fixture,
    username: String = "tailspin"
  ) async throws
    -> (purchase: String, request: Guance_Gateway_V1_RegisterAndActivateRequest)
  {
    let purchase = try await fixture.emulator.purchase()
    let session = try await fixture.client.resolveActivation(
      .with { $0.marketplaceToken = purchase.token }
    )
    .activation.sessionID
    let request = Guance_Gateway_V1_RegisterAndActivateRequest.with {
      $0.sessionID = session
      $0.basic = .with {
        $0.username = username
        $0.password = "correct horse battery"
        $0.passwordConfirmation = "correct horse battery"
        $0.email = "ops@tailspin.example"
      }
      $0.company = .with {
        $0.companyName = "Tailspin Toys"
        $0.industry = "Retail"
        $0.region = "US"
        $0.contactName = "Tess"
      }
      $0.workspace = .with {
        $0.name = "Tailspin Ops"
        $0.language = "en"
        $0.site = "us1"
      }
      $0.termsAccepted = true
    }
    return (purchase.id, request)
  }

  @Test(
    "registrations beyond those under way at once are refused at once with RESOURCE_EXHAUSTED and nothing of theirs is made; sent again, they finish"
  )
  func registrationsBeyondTheBound() async throws {
    try await ActivationTests.with(registrationsAtOnce: 1) { fixture in
      var (_, held) = try await Self.registration(fixture, username: "first")
      held.workspace.name = "Held"
      let (_, second) = try await Self.registration(fixture, username: "second")
      let first = Task { try await fixture.client.registerAndActivate(held).activation }
      // The first registration is under way (its workspace is being created) when the second
      // comes in.
      #expect(await fixture.console.nextCreationStarted())
      let refused = try await #require(throws: RPCError.self) {
        try await fixture.client.registerAndActivate(second)
      }
      #expect(refused.code == .resourceExhausted)
      #expect(refused.errorInfo?.reason == "OVERLOADED")
      #expect(fixture.billing.registered.withLock { $0 } == 1)
      // So is a workspace with a new Guance account, whose password is hashed too.
      let linkedPurchase = try await fixture.emulator.purchase(
        #"{"purchaser": {"emailId": "ops@contoso.example", "objectId": "OBJ-9", "tenantId": "TEN-9", "puid": ""}}"#
      )
      fixture.billing.link(
        tenantID: "ten-9",
        objectID: "obj-9",
        to: LinkedBillingAccount(id: UUID(), username: "contoso")
      )
      let linked = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = linkedPurchase.token }
      ).activation
      #expect(linked.state == .needsWorkspace)
      let workspace = Guance_Gateway_V1_CreateWorkspaceRequest.with {
        $0.sessionID = linked.sessionID
        $0.workspace = second.workspace
        $0.newAccount = second.basic
        $0.termsAccepted = true
      }
      let refusedWorkspace = try await #require(throws: RPCError.self) {
        try await fixture.client.createWorkspace(workspace)
      }
      #expect(refusedWorkspace.code == .resourceExhausted)
      #expect(fixture.console.created.withLock { $0 } == 0)

      fixture.console.releaseCreation()
      #expect(try await first.value.state == .activated)
      let activated = try await fixture.client.registerAndActivate(second).activation
      #expect(activated.state == .activated)
      #expect(fixture.billing.registered.withLock { $0 } == 2)
      #expect(try await fixture.client.createWorkspace(workspace).activation.state == .activated)
    }
  }

  @Test(
    "RegisterAndActivate: the console unreachable after the account was registered; sent again, it finishes once"
  )
  func registerAfterConsoleOutage() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, request) = try await Self.registration(fixture)
      fixture.console.unreachableForNext.withLock { $0 = true }
      let down = try await #require(throws: RPCError.self) {
        try await fixture.client.registerAndActivate(request)
      }
      #expect(down.code == .unavailable)
      #expect(fixture.billing.registered.withLock { $0 } == 1)
      // Another registration for this session is not this call sent again: refused, and
      // nothing more is registered.
      var other = request
      other.basic.username = "someone-else"
      let refused = try await #require(throws: RPCError.self) {
        try await fixture.client.registerAndActivate(other)
      }
      #expect(refused.code == .failedPrecondition)

      let activated = try await fixture.client.registerAndActivate(request).activation
      #expect(activated.state == .activated)
      #expect(activated.billingAccountUsername == "tailspin")
      // Once more, as after a lost answer: the activation as it stands.
      let again = try await fixture.client.registerAndActivate(request).activation
      #expect(again.state == .activated)
      #expect(again.workspace.workspaceID == activated.workspace.workspaceID)
      #expect(fixture.billing.registered.withLock { $0 } == 1)
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
      let trail = try await fixture.store.auditTrail(subscriptionID: purchase)
      #expect(trail.filter { $0 == "billing_account_registered" }.count == 1)
      #expect(trail.filter { $0 == "workspace_created" }.count == 1)
    }
  }

  @Test(
    "RegisterAndActivate: the billing center's answer lost; sent again, it finds the account made and finishes once"
  )
  func registerAfterLostRegistration() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, request) = try await Self.registration(fixture)
      fixture.billing.loseNextRegistration.withLock { $0 = true }
      let lost = try await #require(throws: RPCError.self) {
        try await fixture.client.registerAndActivate(request)
      }
      #expect(lost.code == .unavailable)
      // Registered but not linked: the activation is still at its first step.
      let waiting = try await fixture.client.getActivation(
        .with { $0.sessionID = request.sessionID }
      ).activation
      #expect(waiting.state == .needsBillingAccount)
      let activated = try await fixture.client.registerAndActivate(request).activation
      #expect(activated.state == .activated)
      #expect(fixture.billing.registered.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "RegisterAndActivate: the console's answer lost; sent again, it finds the workspace made and finishes once"
  )
  func registerAfterLostAnswer() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, request) = try await Self.registration(fixture)
      fixture.console.loseNextReply.withLock { $0 = true }
      let lost = try await #require(throws: RPCError.self) {
        try await fixture.client.registerAndActivate(request)
      }
      #expect(lost.code == .unavailable)
      let activated = try await fixture.client.registerAndActivate(request).activation
      #expect(activated.state == .activated)
      let made = try #require(fixture.console.byCreationKey.withLock { Array($0.values) }.first)
      #expect(activated.workspace.workspaceID == made.id.uuidString.lowercased())
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "RegisterAndActivate: the billing center, then the marketplace, failing at the saga; sent again, it carries on"
  )
  func registerDuringOutages() async throws {
    // An hour's retry delay: only the repeated call (or the test) moves the saga on.
    try await ActivationTests.with(retryDelay: .seconds(3600)) { fixture in
      let (purchase, request) = try await Self.registration(fixture)
      fixture.billing.down.withLock { $0 = true }
      let waiting = try await fixture.client.registerAndActivate(request).activation
      #expect(waiting.state == .activating)
      #expect(waiting.activationProblem.contains("billing center unavailable"))
      let still = try await fixture.client.registerAndActivate(request).activation
      #expect(still.state == .activating)

      fixture.billing.down.withLock { $0 = false }
      #expect(
        try await fixture.emulator.request(
          .POST,
          "/admin/faults",
          body: #"{"count": 50, "status": 500}"#
        ).status == 204
      )
      let marketplaceDown = try await fixture.client.registerAndActivate(request).activation
      #expect(marketplaceDown.state == .activating)
      #expect(marketplaceDown.activationProblem.contains("500"))
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 0)

      #expect(
        try await fixture.emulator.request(.POST, "/admin/faults", body: #"{"count": 0}"#).status
          == 204
      )
      let activated = try await fixture.client.registerAndActivate(request).activation
      #expect(activated.state == .activated)
      #expect(fixture.billing.registered.withLock { $0 } == 1)
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "CreateWorkspace: the console unreachable, then the answer lost; sent again each time, it finishes once"
  )
  func createAfterFailures() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, session) = try await ActivationSagaTests.linkedSession(fixture)
      let request = try await ActivationSagaTests.createWorkspace(
        fixture,
        session: session,
        named: "Ops"
      )
      fixture.console.unreachableForNext.withLock { $0 = true }
      let down = try await #require(throws: RPCError.self) {
        try await fixture.client.createWorkspace(request)
      }
      #expect(down.code == .unavailable)
      #expect(fixture.console.created.withLock { $0 } == 0)
      let activated = try await fixture.client.createWorkspace(request).activation
      #expect(activated.state == .activated)
      let again = try await fixture.client.createWorkspace(request).activation
      #expect(again.state == .activated)
      #expect(again.workspace.workspaceID == activated.workspace.workspaceID)
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "CreateWorkspace: the billing center, then the marketplace, failing at the saga; sent again, it carries on"
  )
  func createDuringOutages() async throws {
    try await ActivationTests.with(retryDelay: .seconds(3600)) { fixture in
      let (purchase, session) = try await ActivationSagaTests.linkedSession(fixture)
      let request = try await ActivationSagaTests.createWorkspace(
        fixture,
        session: session,
        named: "Ops"
      )
      fixture.billing.down.withLock { $0 = true }
      #expect(try await fixture.client.createWorkspace(request).activation.state == .activating)
      fixture.billing.down.withLock { $0 = false }
      #expect(
        try await fixture.emulator.request(
          .POST,
          "/admin/faults",
          body: #"{"count": 50, "status": 500}"#
        ).status == 204
      )
      let marketplaceDown = try await fixture.client.createWorkspace(request).activation
      #expect(marketplaceDown.state == .activating)
      #expect(marketplaceDown.activationProblem.contains("500"))
      #expect(
        try await fixture.emulator.request(.POST, "/admin/faults", body: #"{"count": 0}"#).status
          == 204
      )
      #expect(try await fixture.client.createWorkspace(request).activation.state == .activated)
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "a workspace creation whose process died is taken over by the buyer's next call; a live one is not"
  )
  func creationOfADeadProcess() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, session) = try await ActivationSagaTests.linkedSession(fixture)
      let request = try await ActivationSagaTests.createWorkspace(
        fixture,
        session: session,
        named: "Ops"
      )
      // A claim whose lease has an hour to run, held by this (live) process: another call is
      // creating the workspace, and the buyer is told so.
      try await fixture.claimCreation(purchase, runner: try fixture.presence.id())
      let busy = try await #require(throws: RPCError.self) {
        try await fixture.client.createWorkspace(request)
      }
      #expect(busy.code == .failedPrecondition)
      #expect(busy.errorInfo?.reason == "WORKSPACE_BEING_CREATED")
      // The same claim, of a process that died (a gateway killed mid-creation): nobody is
      // creating anything, and the next call goes on at once.
      try await fixture.claimCreation(purchase, runner: TestDatabase.deadPresence)
      let activated = try await fixture.client.createWorkspace(request).activation
      #expect(activated.state == .activated)
      #expect(fixture.console.created.withLock { $0 } == 1)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test(
    "a saga whose process died is resumed by the next reconciler pass; a live runner's is left alone"
  )
  func sagaOfADeadProcess() async throws {
    try await ActivationTests.with(retryDelay: .seconds(3600)) { fixture in
      let (purchase, session) = try await ActivationSagaTests.linkedSession(fixture)
      fixture.billing.down.withLock { $0 = true }
      let waiting = try await fixture.client.bindWorkspace(
        .with {
          $0.sessionID = session
          $0.workspaceID = UUID().uuidString
        }
      ).activation
      #expect(waiting.state == .activating)
      fixture.billing.down.withLock { $0 = false }
      // Due, and held for an hour's lease by this (live) process: not taken.
      try await fixture.holdSaga(purchase, runner: try fixture.presence.id())
      #expect(try await fixture.reconciler.resumeDueSagas() == 0)
      // The same, by a process that died mid-run: taken over at once, lease or not.
      try await fixture.holdSaga(purchase, runner: TestDatabase.deadPresence)
      #expect(try await fixture.reconciler.resumeDueSagas() == 1)
      let done = try await fixture.client.getActivation(.with { $0.sessionID = session }).activation
      #expect(done.state == .activated)
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
    }
  }

  @Test("a workspace created by a call whose process died is bound and activated in the background")
  func abandonedCreation() async throws {
    try await ActivationTests.with { fixture in
      let (purchase, session) = try await ActivationSagaTests.linkedSession(fixture)
      // The console made the workspace; the gateway that asked died before its saga began,
      // and the buyer does not come back.
      let made = BoundWorkspace(id: UUID(), name: "Ops", site: "us1")
      let key = ActivationSaga.idempotencyKey(subscriptionID: purchase, step: "workspace")
      fixture.console.byCreationKey.withLock { $0[key] = made }
      try await fixture.claimCreation(
        purchase,
        runner: TestDatabase.deadPresence,
        claimedAMinuteAgo: true
      )
      // Another purchase whose creating call died before the console made anything.
      let (nothingMade, otherSession) = try await ActivationSagaTests.linkedSession(fixture)
      try await fixture.claimCreation(
        nothingMade,
        runner: TestDatabase.deadPresence,
        claimedAMinuteAgo: true
      )

      #expect(try await fixture.reconciler.finishAbandonedCreations() == [purchase])
      let finished = try await fixture.client.getActivation(.with { $0.sessionID = session })
        .activation
      #expect(finished.state == .activated)
      #expect(finished.workspace.workspaceID == made.id.uuidString.lowercased())
      #expect(try await ActivationSagaTests.activations(fixture, purchase) == 1)
      // Nothing was made for the other: its claim is gone, and the buyer's next call creates it.
      #expect(try await fixture.creationClaims() == 0)
      let request = try await ActivationSagaTests.createWorkspace(
        fixture,
        session: otherSession,
        named: "Ops"
      )
      #expect(try await fixture.client.createWorkspace(request).activation.state == .activated)
      #expect(try await fixture.reconciler.finishAbandonedCreations().isEmpty)
      #expect(try await ActivationSagaTests.activations(fixture, nothingMade) == 1)
    }
  }
}

extension ActivationTests.Fixture {
  /// The subscription's workspace is being created by `runner`, with an hour of lease left;
  /// claimed just now, or a minute ago (long enough for the resumer to take it over).
  func claimCreation(
    _ subscriptionID: String,
    runner: Int32,
    claimedAMinuteAgo: Bool = false
  ) async throws {
    _ = try await database.query(
      """
      INSERT INTO workspace_creation_claims (subscription_id, claimed_until, runner, claimed_at)
      VALUES (\(subscriptionID), now() + interval '1 hour', \(runner),
        now() - CASE WHEN \(claimedAMinuteAgo) THEN interval '1 minute' ELSE interval '0' END)
      ON CONFLICT (subscription_id) DO UPDATE
      SET claimed_until = EXCLUDED.claimed_until, runner = EXCLUDED.runner, claimed_at = EXCLUDED.claimed_at
      """
    )
  }

  /// How many workspace creations are claimed.
  func creationClaims() async throws -> Int {
    for try await count in try await database.query(
      "SELECT count(*)::int FROM workspace_creation_claims"
    ).decode(Int.self) {
      return count
    }
    return 0
  }

  /// The subscription's saga is due and held by `runner`, with an hour of lease left.
  func holdSaga(_ subscriptionID: String, runner: Int32) async throws {
    _ = try await database.query(
      """
      UPDATE activation_sagas SET runner = \(runner), lease_until = now() + interval '1 hour', next_attempt_at = now()
      WHERE subscription_id = \(subscriptionID)
      """
    )
  }
}
