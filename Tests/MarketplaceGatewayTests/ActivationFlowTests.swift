import Foundation
import GRPCCore
import GuanceContracts
import NIOHTTP1
import PostgresNIO
import SuiteTesting
import SwiftProtobuf
import Testing

/// Every branch of the activation flow over real processes, driven through the gateway's
/// public API exactly as the activation pages drive it, with codes read from the mailboxes.
@Suite("The activation flow end to end", .startsServices)
struct ActivationFlowTests {
  static func identity() -> (tenant: String, object: String) {
    (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
  }

  /// Logs in to the console and returns the names of the account's workspaces.
  static func consoleWorkspaces(_ suite: SuiteHarness, login: String) async throws -> Set<String> {
    try await suite.consoleClient { console in
      let reply = try await console.login(
        .with {
          $0.login = login
          $0.password = SuiteHarness.password
        }
      )
      #expect(!reply.sessionToken.isEmpty)
      return Set(reply.workspaces.map(\.name))
    }
  }

  /// A workspace (of a Guance account of its own) that the billing center account
  /// `billingLogin` pays for itself: one a new subscription may take over. Its id.
  static func workspacePaidByAccount(
    _ suite: SuiteHarness,
    billingLogin: String,
    named name: String
  ) async throws
    -> String
  {
    let username = name.lowercased().replacingOccurrences(of: " ", with: "-")
    let workspace = try await suite.consoleClient { console in
      try await console.registerAndCreateWorkspace(
        .with {
          $0.workspaceName = name
          $0.language = "en"
          $0.site = "us1"
          $0.username = username
          $0.password = SuiteHarness.password
          $0.passwordConfirmation = SuiteHarness.password
          $0.email = "\(username)@workspaces.example"
          $0.termsAccepted = true
        }
      ).workspace
    }
    // The billing center user binds it in the billing center, with its owner's console session.
    let owner = try await suite.consoleClient { console in
      try await console.login(
        .with {
          $0.login = username
          $0.password = SuiteHarness.password
        }
      ).sessionToken
    }
    _ = try await suite.billingClient { billing in
      let session = try await billing.login(
        .with {
          $0.login = billingLogin
          $0.password = SuiteHarness.password
        }
      )
      return try await billing.bindWorkspace(
        .with {
          $0.workspaceID = workspace.id
          $0.settlement = .with { $0.method = .billingAccount }
          $0.workspaceOwnerSession = owner
        },
        metadata: ["authorization": "Bearer \(session.sessionToken)"]
      ).binding
    }
    return workspace.id
  }

  @Test(
    "register; already linked with a new workspace; bind an existing workspace; bind an existing billing account"
  )
  func everyBranch() async throws {
    try await SuiteHarness.with { suite in
      let buyer = Self.identity()
      // Branch 1 — not linked, no billing center account: register and activate in one step.
      let first = try await suite.purchaseAndResolve(
        purchaser: buyer,
        email: "nancy@northwind.example"
      )
      #expect(first.activation.branch == .notLinked)
      #expect(first.activation.state == .needsBillingAccount)
      let registered = try await suite.activation { client in
        try await client.registerAndActivate(
          .with {
            $0.sessionID = first.activation.sessionID
            $0.basic = SuiteHarness.basic("northwind", email: "nancy@northwind.example")
            $0.company = SuiteHarness.company
            $0.workspace = SuiteHarness.newWorkspace("Northwind Ops")
            $0.termsAccepted = true
          }
        ).activation
      }
      #expect(registered.state == .activated)
      // The branch the session took, though the purchaser is linked now.
      #expect(registered.branch == .notLinked)
      #expect(registered.subscription.marketplaceStatus == "Subscribed")
      #expect(registered.workspace.name == "Northwind Ops")
      #expect(registered.workspace.site == "us1")
      #expect(registered.consoleLoginURL == "http://console.test/login")
      #expect(registered.billingAccountUsername == "northwind")
      #expect(try await suite.activations(of: first.subscription) == 1)
      #expect(try await Self.consoleWorkspaces(suite, login: "northwind") == ["Northwind Ops"])
      // The billing center bills that workspace through the subscription.
      let settlement = try await suite.billingClient { billing in
        let session = try await billing.login(
          .with {
            $0.login = "northwind"
            $0.password = SuiteHarness.password
          }
        )
        return try await billing.listBoundWorkspaces(
          .with { $0.billingAccountID = session.billingAccount.id },
          metadata: ["authorization": "Bearer \(session.sessionToken)"]
        ).bindings.first?.settlement
      }
      #expect(settlement?.method == .cloudAccount)
      #expect(settlement?.marketplaceSubscriptionID == first.subscription)

      // A replayed landing token shows the activation as it is and activates nothing.
      let replayed = try await suite.activation { client in
        try await client.resolveActivation(.with { $0.marketplaceToken = first.token }).activation
      }
      #expect(replayed.state == .activated)
      #expect(replayed.nextSteps == [.logIn])
      #expect(replayed.workspace.name == "Northwind Ops")
      #expect(try await suite.activations(of: first.subscription) == 1)

      // Branch 2 — already linked (a second purchase): straight to the workspace step, where a
      // new workspace is created for the existing Guance account with an emailed code.
      let second = try await suite.purchaseAndResolve(
        purchaser: buyer,
        email: "nancy@northwind.example"
      )
      #expect(second.activation.branch == .alreadyLinked)
      #expect(second.activation.state == .needsWorkspace)
      #expect(second.activation.nextSteps == [.createWorkspace, .bindWorkspace])
      let created = try await suite.activation { client in
        let bindable = try await client.listBindableWorkspaces(
          .with { $0.sessionID = second.activation.sessionID }
        )
        // Northwind Ops is paid for through the first subscription: it stays with it.
        #expect(bindable.workspaces.isEmpty)
        let sent = try await client.sendWorkspaceEmailCode(
          .with {
            $0.sessionID = second.activation.sessionID
            $0.email = "nancy@northwind.example"
          }
        )
        let code = try await suite.consoleMail.code(for: "nancy@northwind.example")
        return try await client.createWorkspace(
          .with {
            $0.sessionID = second.activation.sessionID
            $0.workspace = SuiteHarness.newWorkspace("Northwind EU", site: "eu1")
            $0.existingAccount = .with {
              $0.email = "nancy@northwind.example"
              $0.challengeID = sent.challengeID
              $0.code = code
            }
            $0.termsAccepted = true
          }
        ).activation
      }
      #expect(created.state == .activated)
      #expect(created.workspace.site == "eu1")
      #expect(try await suite.activations(of: second.subscription) == 1)
      #expect(
        try await Self.consoleWorkspaces(suite, login: "northwind") == [
          "Northwind Ops", "Northwind EU",
        ]
      )

      // Branch 3 — already linked, has workspaces: bind one the billing account pays for
      // itself. Those the first two subscriptions pay for stay with them: not offered, and
      // refused when named anyway (the first would go on billing with no workspace).
      let lab = try await Self.workspacePaidByAccount(
        suite,
        billingLogin: "northwind",
        named: "Northwind Lab"
      )
      let third = try await suite.purchaseAndResolve(purchaser: buyer)
      let bound = try await suite.activation { client in
        let bindable = try await client.listBindableWorkspaces(
          .with { $0.sessionID = third.activation.sessionID }
        )
        #expect(bindable.workspaces.map(\.name) == ["Northwind Lab"])
        let taken = try await #require(throws: RPCError.self) {
          try await client.bindWorkspace(
            .with {
              $0.sessionID = third.activation.sessionID
              $0.workspaceID = created.workspace.workspaceID
            }
          )
        }
        #expect(taken.code == .failedPrecondition)
        #expect(taken.message.contains("another active marketplace subscription"))
        return try await client.bindWorkspace(
          .with {
            $0.sessionID = third.activation.sessionID
            $0.workspaceID = lab
          }
        ).activation
      }
      #expect(bound.state == .activated)
      #expect(bound.workspace.name == "Northwind Lab")
      #expect(try await suite.activations(of: third.subscription) == 1)
      // The second subscription still pays for Northwind EU.
      #expect(
        try await suite.activation { client in
          try await client.getActivation(.with { $0.sessionID = second.activation.sessionID })
            .activation.workspace.name
        } == "Northwind EU"
      )

      // Branch 4 — not linked, has a billing center account: bind it with the mailed code,
      // then register a new Guance account together with its workspace.
      _ = try await suite.billingClient { billing in
        try await billing.registerBillingAccount(
          .with {
            $0.username = "fabrikam"
            $0.password = SuiteHarness.password
            $0.email = "billing@fabrikam.example"
            $0.company = .with {
              $0.companyName = "Fabrikam"
              $0.industry = "Retail"
              $0.region = "EU"
              $0.contactName = "Fay"
            }
          }
        )
      }
      let fourth = try await suite.purchaseAndResolve(
        purchaser: Self.identity(),
        email: "it@fabrikam.example"
      )
      #expect(fourth.activation.branch == .notLinked)
      let session = fourth.activation.sessionID
      let fabrikam = try await suite.activation { client in
        let started = try await client.startBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.billingUsername = "fabrikam"
          }
        )
        #expect(started.maskedEmail == "***@***")
        let code = try await suite.billingMail.code(for: "billing@fabrikam.example")
        let linked = try await client.confirmBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.code = code
          }
        ).activation
        #expect(linked.state == .needsWorkspace)
        #expect(
          try await client.listBindableWorkspaces(.with { $0.sessionID = session }).workspaces
            .isEmpty
        )
        return try await client.createWorkspace(
          .with {
            $0.sessionID = session
            $0.workspace = SuiteHarness.newWorkspace("Fabrikam Prod")
            $0.newAccount = SuiteHarness.basic("fabrikam-ops", email: "ops@fabrikam.example")
            $0.termsAccepted = true
          }
        ).activation
      }
      #expect(fabrikam.state == .activated)
      #expect(fabrikam.branch == .notLinked)
      #expect(fabrikam.billingAccountUsername == "fabrikam")
      #expect(try await suite.activations(of: fourth.subscription) == 1)
      #expect(try await Self.consoleWorkspaces(suite, login: "fabrikam-ops") == ["Fabrikam Prod"])
    }
  }

  @Test("bad and expired tokens, steps out of order, and a wrong code five times")
  func refusals() async throws {
    try await SuiteHarness.with { suite in
      try await suite.activation { client in
        for token in ["garbage", ""] {
          let refused = try await #require(throws: RPCError.self) {
            try await client.resolveActivation(.with { $0.marketplaceToken = token })
          }
          #expect(refused.code == .invalidArgument)
        }
        let expired = try await suite.emulator.purchase(#"{"tokenLifetimeSeconds": -1}"#)
        let late = try await #require(throws: RPCError.self) {
          try await client.resolveActivation(.with { $0.marketplaceToken = expired.token })
        }
        #expect(late.code == .invalidArgument)
        #expect(late.message.contains("Configure account"))
      }

      let fresh = try await suite.purchaseAndResolve(purchaser: Self.identity())
      let session = fresh.activation.sessionID
      try await suite.activation { client in
        // Workspace steps before the billing account step: refused, with the state.
        let steps: [(String, () async throws -> Void)] = [
          (
            "BindWorkspace",
            {
              _ = try await client.bindWorkspace(
                .with {
                  $0.sessionID = session
                  $0.workspaceID = UUID().uuidString
                }
              )
            }
          ),
          (
            "CreateWorkspace",
            {
              _ = try await client.createWorkspace(
                .with {
                  $0.sessionID = session
                  $0.workspace = SuiteHarness.newWorkspace("Early")
                  $0.newAccount = SuiteHarness.basic("early-bird", email: "early@example.com")
                  $0.termsAccepted = true
                }
              )
            }
          ),
          (
            "SendWorkspaceEmailCode",
            {
              _ = try await client.sendWorkspaceEmailCode(
                .with {
                  $0.sessionID = session
                  $0.email = "early@example.com"
                }
              )
            }
          ),
          (
            "ListBindableWorkspaces",
            { _ = try await client.listBindableWorkspaces(.with { $0.sessionID = session }) }
          ),
          (
            "ConfirmBillingAccountBinding",
            {
              _ = try await client.confirmBillingAccountBinding(
                .with {
                  $0.sessionID = session
                  $0.code = "123456"
                }
              )
            }
          ),
        ]
        for (name, step) in steps {
          let refused = try await #require(throws: RPCError.self, "\(name)") { try await step() }
          #expect(refused.code == .failedPrecondition, "\(name)")
          #expect(refused.preconditionTypes == ["ACTIVATION_STATE"], "\(name)")
          #expect(refused.message.contains("needsBillingAccount"), "\(name)")
        }
      }
      // Nothing was created on the way.
      #expect(try await suite.activations(of: fresh.subscription) == 0)

      // A wrong code five times locks the code: the right one no longer works.
      _ = try await suite.billingClient { billing in
        try await billing.registerBillingAccount(
          .with {
            $0.username = "contoso"
            $0.password = SuiteHarness.password
            $0.email = "billing@contoso.example"
            $0.company = .with {
              $0.companyName = "Fabrikam"
              $0.industry = "Retail"
              $0.region = "EU"
              $0.contactName = "Fay"
            }
          }
        )
      }
      try await suite.activation { client in
        _ = try await client.startBillingAccountBinding(
          .with {
            $0.sessionID = session
            $0.billingUsername = "contoso"
          }
        )
        let code = try await suite.billingMail.code(for: "billing@contoso.example")
        let wrong = code == "000000" ? "111111" : "000000"
        for attempt in 1...5 {
          let refused = try await #require(throws: RPCError.self) {
            try await client.confirmBillingAccountBinding(
              .with {
                $0.sessionID = session
                $0.code = wrong
              }
            )
          }
          // Four "wrong code, n tries left", then the fifth locks the code.
          #expect(refused.code == (attempt < 5 ? .invalidArgument : .failedPrecondition))
          if attempt < 5 { #expect(refused.violatedFields == ["code"]) }
        }
        let locked = try await #require(throws: RPCError.self) {
          try await client.confirmBillingAccountBinding(
            .with {
              $0.sessionID = session
              $0.code = code
            }
          )
        }
        #expect(locked.code == .failedPrecondition)
        #expect(locked.preconditionTypes == ["EMAIL_CODE"])
        #expect(locked.message.contains("too many wrong codes"))
        let still = try await client.getActivation(.with { $0.sessionID = session }).activation
        #expect(still.state == .needsBillingAccount)
      }
    }
  }

  @Test("marketplace errors and timeouts: each activation completes exactly once")
  func faults() async throws {
    // 1 s marketplace calls, and the shortest lease that allows with 60 s billing calls
    // (3 × 1 × 4 + 60 + 5 s).
    try await SuiteHarness.with(gateway: [
      "MARKETPLACE_TIMEOUT_SECONDS": "1", "ACTIVATION_LEASE_SECONDS": "77",
    ]) { suite in
      let buyer = Self.identity()
      // The marketplace answers 500 to everything: the activation waits and is retried.
      let first = try await suite.purchaseAndResolve(purchaser: buyer)
      try await suite.faults(#"{"count": 1000, "status": 500}"#)
      let waiting = try await suite.activation { client in
        try await client.registerAndActivate(
          .with {
            $0.sessionID = first.activation.sessionID
            $0.basic = SuiteHarness.basic("woodgrove", email: "ops@woodgrove.example")
            $0.company = SuiteHarness.company
            $0.workspace = SuiteHarness.newWorkspace("Woodgrove")
            $0.termsAccepted = true
          }
        ).activation
      }
      #expect(waiting.state == .activating)
      #expect(waiting.activationProblem.contains("500"))
      #expect(waiting.workspace.name == "Woodgrove")
      try await suite.faults(#"{"count": 0}"#)
      let recovered = try await suite.waitFor(.activated, session: first.activation.sessionID)
      #expect(recovered.state == .activated)
      #expect(try await suite.activations(of: first.subscription) == 1)

      // The marketplace hangs past the client's deadline, then recovers.
      let second = try await suite.purchaseAndResolve(purchaser: buyer)
      let workspaceID = try await Self.workspacePaidByAccount(
        suite,
        billingLogin: "woodgrove",
        named: "Woodgrove Lab"
      )
      try await suite.faults(#"{"count": 1000, "delayMilliseconds": 1500}"#)
      let hanging = try await suite.activation { client in
        try await client.bindWorkspace(
          .with {
            $0.sessionID = second.activation.sessionID
            $0.workspaceID = workspaceID
          }
        ).activation
      }
      #expect(hanging.state == .activating)
      try await suite.faults(#"{"count": 0}"#)
      #expect(
        try await suite.waitFor(.activated, session: second.activation.sessionID).state
          == .activated
      )
      #expect(try await suite.activations(of: second.subscription) == 1)
    }
  }

  @Test(
    "a gateway killed while the marketplace holds Activate's answer: the next gateway finishes the activation, once"
  )
  func killedMidActivate() async throws {
    // The gateway waits for the marketplace longer than the test takes to kill it, with the
    // lease that allows (3 × 60 × 4 + 60 + 5 s): the next gateway takes the saga over because
    // its runner's process is gone, not because the lease ran out (the test's patience is a
    // small part of it).
    try await SuiteHarness.with(gateway: [
      "MARKETPLACE_TIMEOUT_SECONDS": "60", "ACTIVATION_LEASE_SECONDS": "785",
    ]) {
      suite in
      let purchase = try await suite.purchaseAndResolve(purchaser: Self.identity())
      // The marketplace takes Activate and holds its answer until the next plan.
      try await suite.faults(#"{"count": 1000, "holdAnswer": true, "path": "/activate"}"#)
      let session = purchase.activation.sessionID
      let call = Task {
        try? await suite.activation { client in
          try await client.registerAndActivate(
            SuiteHarness.registration(session: session, username: "held")
          )
        }
      }
      #expect(
        try await suite.eventually { try await suite.activations(of: purchase.subscription) == 1 }
      )
      try await suite.crashAndRestartGateway {
        // The saga's runner died in the middle of Activate: the next one asks the marketplace.
        try await suite.faults(#"{"count": 0}"#)
      }
      _ = await call.value
      let finished = try await suite.waitFor(.activated, session: session)
      #expect(finished.state == .activated)
      #expect(!finished.workspace.workspaceID.isEmpty)
      #expect(try await suite.activations(of: purchase.subscription) == 1)
    }
  }
}
