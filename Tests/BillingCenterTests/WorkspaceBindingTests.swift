import Foundation
import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Workspace bindings and settlement")
struct WorkspaceBindingTests {
  @Test("a workspace binds once, idempotently, with its site and live status")
  func binds() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let workspace = try await fixture.workspace(site: "eu1")
      let first = try await fixture.bind(workspace.id, to: acme.id)
      let again = try await fixture.bind(workspace.id, to: acme.id)
      #expect(first == again)
      #expect(first.site == "eu1")
      #expect(first.status == .active)
      #expect(try await fixture.count("workspace_bindings") == 1)

      _ = try await fixture.directory.setWorkspaceStatus(
        .with {
          $0.workspaceID = workspace.id
          $0.status = .suspended
          $0.reason = "test"
        },
        metadata: BillingFixture.internalCall
      )
      let listed = try await fixture.center.listBoundWorkspaces(
        .with { $0.billingAccountID = acme.id },
        metadata: BillingFixture.internalCall
      )
      #expect(listed.bindings.map(\.workspaceID) == [workspace.id])
      #expect(listed.bindings.first?.status == .suspended)
    }
  }

  @Test(
    "a binding can link its subscription to the purchaser in the same call, never to another account's"
  )
  func linksThePurchaserFirst() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let globex = try await fixture.register("globex", email: "billing@globex.example")
      let workspace = try await fixture.workspace()
      let bound = try await fixture.center.bindWorkspace(
        .with {
          $0.billingAccountID = acme.id
          $0.workspaceID = workspace.id
          $0.settlement = BillingFixture.cloud("sub-new")
          $0.linkPurchaser = BillingFixture.identity("object-new")
        },
        metadata: BillingFixture.internalCall
      ).binding
      #expect(bound.settlement.marketplaceSubscriptionID == "sub-new")
      let found = try await fixture.internalAPI.findBillingAccountByCloudAccount(
        .with { $0.identity = BillingFixture.identity("object-new") },
        metadata: BillingFixture.internalCall
      )
      #expect(found.billingAccount.id == acme.id)
      #expect(found.cloudAccount.marketplaceSubscriptionIds == ["sub-new"])

      // The purchaser belongs to acme: globex cannot take it over, and nothing is bound.
      let other = try await fixture.workspace("Other", owner: "bob")
      let takeover = try await #require(throws: RPCError.self) {
        try await fixture.center.bindWorkspace(
          .with {
            $0.billingAccountID = globex.id
            $0.workspaceID = other.id
            $0.settlement = BillingFixture.cloud("sub-other")
            $0.linkPurchaser = BillingFixture.identity("object-new")
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(takeover.preconditionTypes == ["CLOUD_ACCOUNT_LINK"])
      #expect(
        try await fixture.count("workspace_bindings", where: "workspace_id = '\(other.id)'") == 0
      )
      // A purchaser goes only with cloud settlement.
      let wrongMethod = try await #require(throws: RPCError.self) {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.billingAccountID = acme.id
            $0.workspaceID = workspace.id
            $0.settlement = .with { $0.method = .billingAccount }
            $0.linkPurchaser = BillingFixture.identity("object-new")
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(wrongMethod.violatedFields == ["link_purchaser"])
    }
  }

  @Test("unknown workspaces, foreign bindings and unlinked subscriptions are refused")
  func refusals() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let globex = try await fixture.register("globex", email: "billing@globex.example")
      let workspace = try await fixture.workspace()
      let unknown = try await #require(throws: RPCError.self) {
        try await fixture.bind("6b1f0e3c-1d7e-4a55-9a51-3f3d8e0c0001", to: acme.id)
      }
      #expect(unknown.code == .notFound)
      let unlinked = try await #require(throws: RPCError.self) {
        try await fixture.bind(workspace.id, to: acme.id, settlement: BillingFixture.cloud("sub-9"))
      }
      #expect(unlinked.code == .failedPrecondition)
      let noMethod = try await #require(throws: RPCError.self) {
        try await fixture.bind(workspace.id, to: acme.id, settlement: .init())
      }
      #expect(noMethod.violatedFields == ["settlement"])
      try await fixture.bind(workspace.id, to: acme.id)
      let elsewhere = try await #require(throws: RPCError.self) {
        try await fixture.bind(workspace.id, to: globex.id)
      }
      #expect(elsewhere.code == .failedPrecondition)
      #expect(try await fixture.count("workspace_bindings") == 1)
    }
  }

  @Test(
    "a billing center user binds only a workspace whose owner's console session it shows; all else is not found"
  )
  func bindingNeedsTheOwner() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      _ = try await fixture.register("globex", email: "billing@globex.example")
      let alices = try await fixture.workspace("Ops", owner: "alice")
      _ = try await fixture.workspace("Lab", owner: "bob")
      func billingSession(_ login: String) async throws -> Metadata {
        let opened = try await fixture.center.login(
          .with {
            $0.login = login
            $0.password = BillingFixture.password
          }
        )
        return ["authorization": "Bearer \(opened.sessionToken)"]
      }
      func consoleSession(_ login: String) async throws -> String {
        try await fixture.console.login(
          .with {
            $0.login = login
            $0.password = BillingFixture.password
          }
        ).sessionToken
      }
      let acmeCall = try await billingSession("acme")
      let globexCall = try await billingSession("globex")
      let alice = try await consoleSession("alice")
      let bob = try await consoleSession("bob")
      func bind(
        _ workspace: String,
        as caller: Metadata,
        owner: String,
        linking: Bool = false
      ) async throws
        -> Guance_Billing_V1_WorkspaceBinding
      {
        try await fixture.center.bindWorkspace(
          .with {
            $0.workspaceID = workspace
            $0.settlement =
              linking ? BillingFixture.cloud("sub-new") : .with { $0.method = .billingAccount }
            if linking { $0.linkPurchaser = BillingFixture.identity("object-new") }
            $0.workspaceOwnerSession = owner
          },
          metadata: caller
        ).binding
      }

      // No proof, or a purchaser to link (the activation's alone): refused as bad requests.
      let unproven = try await #require(throws: RPCError.self) {
        try await bind(alices.id, as: acmeCall, owner: "")
      }
      #expect(unproven.violatedFields == ["workspace_owner_session"])
      let linking = try await #require(throws: RPCError.self) {
        try await bind(alices.id, as: acmeCall, owner: alice, linking: true)
      }
      #expect(linking.violatedFields == ["link_purchaser"])
      // Someone else's session, a dead one, or an unknown workspace: one and the same answer.
      let unknownID = "6b1f0e3c-1d7e-4a55-9a51-3f3d8e0c0001"
      let unknown = try await #require(throws: RPCError.self) {
        try await bind(unknownID, as: acmeCall, owner: bob)
      }
      #expect(unknown.code == .notFound)
      #expect(unknown.errorInfo?.reason == "WORKSPACE_NOT_FOUND")
      func sameAsUnknown(_ refused: RPCError, _ id: String) {
        #expect(refused.code == unknown.code)
        #expect(refused.message.replacingOccurrences(of: id, with: unknownID) == unknown.message)
        #expect(refused.missingResource?.type == unknown.missingResource?.type)
        #expect(refused.errorInfo?.reason == unknown.errorInfo?.reason)
      }
      for owner in [bob, "not-a-session", String(repeating: "a", count: 43)] {
        sameAsUnknown(
          try await #require(throws: RPCError.self) {
            try await bind(alices.id, as: acmeCall, owner: owner)
          },
          alices.id
        )
      }
      #expect(try await fixture.count("workspace_bindings") == 0)

      // Alice's session proves it: bound, and listed.
      let bound = try await bind(alices.id, as: acmeCall, owner: alice)
      #expect(bound.billingAccountID == acme.id)
      // Bound to acme now: globex, without alice's session, cannot tell it from an unknown id,
      // whether it binds it, changes its settlement or unbinds it.
      sameAsUnknown(
        try await #require(throws: RPCError.self) {
          try await bind(alices.id, as: globexCall, owner: bob)
        },
        alices.id
      )
      let change = try await #require(throws: RPCError.self) {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.workspaceID = alices.id
            $0.settlement = .with { $0.method = .billingAccount }
          },
          metadata: globexCall
        )
      }
      let changeUnknown = try await #require(throws: RPCError.self) {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.workspaceID = unknownID
            $0.settlement = .with { $0.method = .billingAccount }
          },
          metadata: globexCall
        )
      }
      #expect(change.code == changeUnknown.code)
      #expect(
        change.message.replacingOccurrences(of: alices.id, with: unknownID) == changeUnknown.message
      )
      let unbind = try await #require(throws: RPCError.self) {
        try await fixture.center.unbindWorkspace(
          .with { $0.workspaceID = alices.id },
          metadata: globexCall
        )
      }
      #expect(unbind.code == changeUnknown.code)
      #expect(
        unbind.message.replacingOccurrences(of: alices.id, with: unknownID) == changeUnknown.message
      )
      let listed = try await fixture.center.listBoundWorkspaces(.init(), metadata: acmeCall)
      #expect(listed.bindings.map(\.workspaceID) == [alices.id])
      #expect(
        try await fixture.center.listBoundWorkspaces(.init(), metadata: globexCall).bindings.isEmpty
      )
    }
  }

  @Test("of sixteen concurrent binds of one workspace by two accounts, one account wins")
  func race() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let globex = try await fixture.register("globex", email: "billing@globex.example")
      let workspace = try await fixture.workspace()
      let winners = try await withThrowingTaskGroup(of: String?.self) { group in
        for index in 0..<16 {
          let account = index.isMultiple(of: 2) ? acme.id : globex.id
          group.addTask { (try? await fixture.bind(workspace.id, to: account))?.billingAccountID }
        }
        return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
      }
      #expect(Set(winners).count == 1)
      #expect(winners.count == 8)
      #expect(try await fixture.count("workspace_bindings") == 1)
    }
  }

  @Test(
    "a settlement change that links the purchaser is refused whole: nothing linked, nothing rebound"
  )
  func changeRefusals() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let globex = try await fixture.register("globex", email: "billing@globex.example")
      try await fixture.link(globex, object: "object-globex", subscription: "sub-globex")
      let workspace = try await fixture.workspace()
      try await fixture.bind(workspace.id, to: acme.id)
      func change(
        _ account: String,
        _ subscription: String,
        purchaser: String?
      ) async throws
        -> Guance_Billing_V1_WorkspaceBinding
      {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.billingAccountID = account
            $0.workspaceID = workspace.id
            $0.settlement = BillingFixture.cloud(subscription)
            if let purchaser { $0.linkPurchaser = BillingFixture.identity(purchaser) }
          },
          metadata: BillingFixture.internalCall
        ).binding
      }
      func unchanged() async throws {
        #expect(try await fixture.count("workspace_bindings") == 1)
        #expect(try await fixture.count("cloud_accounts") == 1)
        #expect(try await fixture.count("cloud_account_subscriptions") == 1)
      }

      // Not this account's workspace.
      let foreign = try await #require(throws: RPCError.self) {
        try await change(globex.id, "sub-globex", purchaser: nil)
      }
      #expect(foreign.code == .notFound)
      // A new purchaser with a subscription another purchaser holds: the new cloud account
      // the statement made is undone with the refusal.
      let held = try await #require(throws: RPCError.self) {
        try await change(acme.id, "sub-globex", purchaser: "object-new")
      }
      #expect(held.preconditionTypes == ["CLOUD_ACCOUNT_LINK"])
      try await unchanged()
      // A purchaser linked to another account.
      let elsewhere = try await #require(throws: RPCError.self) {
        try await change(acme.id, "sub-2", purchaser: "object-globex")
      }
      #expect(elsewhere.preconditionTypes == ["CLOUD_ACCOUNT_LINK"])
      try await unchanged()
      // No purchaser, and the subscription is not the account's.
      let unlinked = try await #require(throws: RPCError.self) {
        try await change(acme.id, "sub-globex", purchaser: nil)
      }
      #expect(unlinked.code == .failedPrecondition)
      try await unchanged()

      // Accepted: linked and rebound in the one call; the same change again is a no-op.
      let changed = try await change(acme.id, "sub-2", purchaser: "object-new")
      #expect(changed.settlement.marketplaceSubscriptionID == "sub-2")
      let again = try await change(acme.id, "sub-2", purchaser: "object-new")
      #expect(again == changed)
      #expect(try await fixture.count("workspace_bindings") == 2)
      #expect(try await fixture.count("workspace_bindings", where: "valid_to IS NULL") == 1)
      #expect(try await fixture.count("cloud_accounts") == 2)
    }
  }

  @Test("a workspace one active subscription pays for is not taken by another subscription")
  func settledWorkspaceStays() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      try await fixture.link(acme, subscription: "sub-1")
      try await fixture.link(acme, subscription: "sub-2")
      let workspace = try await fixture.workspace()
      try await fixture.bind(workspace.id, to: acme.id, settlement: BillingFixture.cloud("sub-1"))
      func move(to subscription: String) async throws -> Guance_Billing_V1_WorkspaceBinding {
        try await fixture.center.changeSettlementMethod(
          .with {
            $0.billingAccountID = acme.id
            $0.workspaceID = workspace.id
            $0.settlement = BillingFixture.cloud(subscription)
          },
          metadata: BillingFixture.internalCall
        ).binding
      }
      let refused = try await #require(throws: RPCError.self) { try await move(to: "sub-2") }
      #expect(refused.code == .failedPrecondition)
      #expect(refused.preconditionTypes == ["WORKSPACE_SETTLEMENT"])
      // Nothing changed: sub-1 still pays for it.
      let listed = try await fixture.center.listBoundWorkspaces(
        .with { $0.billingAccountID = acme.id },
        metadata: BillingFixture.internalCall
      )
      #expect(listed.bindings.map(\.settlement.marketplaceSubscriptionID) == ["sub-1"])
      #expect(try await fixture.count("workspace_bindings") == 1)
      // The same subscription again is no change, and allowed.
      #expect(try await move(to: "sub-1").settlement.marketplaceSubscriptionID == "sub-1")
    }
  }

  @Test("settlement changes and unbinding keep the history")
  func history() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      try await fixture.link(acme)
      let workspace = try await fixture.workspace()
      try await fixture.bind(workspace.id, to: acme.id)
      let changed = try await fixture.center.changeSettlementMethod(
        .with {
          $0.billingAccountID = acme.id
          $0.workspaceID = workspace.id
          $0.settlement = BillingFixture.cloud()
        },
        metadata: BillingFixture.internalCall
      )
      #expect(changed.binding.settlement.method == .cloudAccount)
      _ = try await fixture.center.unbindWorkspace(
        .with {
          $0.billingAccountID = acme.id
          $0.workspaceID = workspace.id
        },
        metadata: BillingFixture.internalCall
      )
      #expect(try await fixture.count("workspace_bindings") == 2)
      #expect(try await fixture.count("workspace_bindings", where: "valid_to IS NULL") == 0)
      let listed = try await fixture.center.listBoundWorkspaces(
        .with { $0.billingAccountID = acme.id },
        metadata: BillingFixture.internalCall
      )
      #expect(listed.bindings.isEmpty)
      let notBound = try await #require(throws: RPCError.self) {
        try await fixture.center.unbindWorkspace(
          .with {
            $0.billingAccountID = acme.id
            $0.workspaceID = workspace.id
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(notBound.code == .notFound)
    }
  }
}
