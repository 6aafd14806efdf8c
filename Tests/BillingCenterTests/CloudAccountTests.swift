import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Cloud accounts and binding by email code")
struct CloudAccountTests {
  @Test("linking is idempotent for one account and refused for another")
  func linking() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let globex = try await fixture.register("globex", email: "billing@globex.example")
      let first = try await fixture.link(acme, subscription: "sub-1")
      let again = try await fixture.link(acme, subscription: "sub-2")
      #expect(again.id == first.id)
      #expect(again.marketplaceSubscriptionIds == ["sub-1", "sub-2"])
      let elsewhere = try await #require(throws: RPCError.self) {
        try await fixture.link(globex, subscription: "sub-3")
      }
      #expect(elsewhere.code == .failedPrecondition)
      #expect(
        try await fixture.count(
          "cloud_account_subscriptions",
          where: "marketplace_subscription_id = 'sub-3'"
        ) == 0
      )
      // A marketplace subscription has one purchaser: a second cloud account cannot claim it.
      let secondPurchaser = try await #require(throws: RPCError.self) {
        try await fixture.link(acme, object: "object-2", subscription: "sub-1")
      }
      #expect(secondPurchaser.code == .failedPrecondition)

      let found = try await fixture.internalAPI.findBillingAccountByCloudAccount(
        .with { $0.identity = BillingFixture.identity() },
        metadata: BillingFixture.internalCall
      )
      #expect(found.billingAccount.id == acme.id)
      let missing = try await fixture.internalAPI.findBillingAccountByCloudAccount(
        .with { $0.identity = BillingFixture.identity("someone-else") },
        metadata: BillingFixture.internalCall
      )
      #expect(!missing.hasBillingAccount)
      let listed = try await fixture.center.listCloudAccounts(
        .with { $0.billingAccountID = acme.id },
        metadata: BillingFixture.internalCall
      )
      #expect(listed.cloudAccounts.map(\.id) == [first.id])
      #expect(try await fixture.count("cloud_accounts") == 1)
    }
  }

  @Test("the mailed code binds the cloud account to the named billing account, once")
  func bindingByCode() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let started = try await fixture.center.startBindingVerification(
        .with { $0.username = "acme" }
      )
      #expect(started.maskedEmail == "***@***")
      try await fixture.mailWorker.drainOnce()
      let code = try await fixture.mailbox.code(for: "billing@acme.example")
      let confirm = Guance_Billing_V1_ConfirmBindingRequest.with {
        $0.challengeID = started.challengeID
        $0.code = code
        $0.username = "acme"
        $0.identity = BillingFixture.identity()
        $0.marketplaceSubscriptionID = "sub-1"
      }
      // Sixteen tabs confirming at once: one binding.
      let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
        for _ in 0..<16 {
          group.addTask {
            (try? await fixture.internalAPI.confirmBinding(
              confirm,
              metadata: BillingFixture.internalCall
            )) != nil
          }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      #expect(outcomes == 1)
      #expect(
        try await fixture.count("cloud_accounts", where: "billing_account_id = '\(acme.id)'") == 1
      )
      let again = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.confirmBinding(confirm, metadata: BillingFixture.internalCall)
      }
      #expect(again.code == .failedPrecondition)
    }
  }

  @Test("the address a code went to reads the same for every account, existing or not")
  func concealedAddress() async throws {
    try await BillingFixture.with { fixture in
      // Accounts on a company domain, webmail and another country's mail: none shows through.
      for (username, email) in [
        ("acme", "billing@acme.example"), ("wang", "wang@qq.com"), ("erika", "e@web.de"),
      ] {
        _ = try await fixture.register(username, email: email)
      }
      var answers: Set<String> = []
      for username in ["acme", "wang", "erika", "nobody", "zz-unknown", "someone-else"] {
        answers.insert(
          try await fixture.center.startBindingVerification(.with { $0.username = username })
            .maskedEmail
        )
      }
      #expect(answers == ["***@***"])
    }
  }

  @Test("an unknown username gets the same shape of reply, and no mail")
  func unknownUsername() async throws {
    try await BillingFixture.with { fixture in
      let reply = try await fixture.center.startBindingVerification(
        .with { $0.username = "nobody" }
      )
      #expect(!reply.challengeID.isEmpty)
      #expect(reply.maskedEmail == "***@***")
      #expect(reply.resendAfterSeconds == 60)
      let again = try await #require(throws: RPCError.self) {
        try await fixture.center.startBindingVerification(.with { $0.username = "nobody" })
      }
      #expect(again.code == .resourceExhausted)
      try await fixture.mailWorker.drainOnce()
      #expect(try await fixture.count("mail_outbox") == 0)
      let guess = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.confirmBinding(
          .with {
            $0.challengeID = reply.challengeID
            $0.code = "123456"
            $0.username = "nobody"
            $0.identity = BillingFixture.identity()
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(guess.code == .invalidArgument)
      #expect(try await fixture.count("cloud_accounts") == 0)
    }
  }

  @Test("a code for one username does not bind through another")
  func boundToUsername() async throws {
    try await BillingFixture.with { fixture in
      try await fixture.register()
      try await fixture.register("globex", email: "billing@globex.example")
      let started = try await fixture.center.startBindingVerification(
        .with { $0.username = "acme" }
      )
      try await fixture.mailWorker.drainOnce()
      let code = try await fixture.mailbox.code(for: "billing@acme.example")
      let error = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.confirmBinding(
          .with {
            $0.challengeID = started.challengeID
            $0.code = code
            $0.username = "globex"
            $0.identity = BillingFixture.identity()
          },
          metadata: BillingFixture.internalCall
        )
      }
      #expect(error.code == .notFound)
      #expect(try await fixture.count("cloud_accounts") == 0)
    }
  }
}
