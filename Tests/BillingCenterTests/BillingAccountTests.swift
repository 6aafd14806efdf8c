import GRPCCore
import GRPCProtobuf
import GuanceContracts
import Mailer
import PostgresNIO
import SuitePersistence
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Billing center accounts")
struct BillingAccountTests {
  @Test("an account registers with its company and signs in by username, email or phone")
  func registerAndLogin() async throws {
    try await BillingFixture.with { fixture in
      let account = try await fixture.register(phone: "+65 6123 4567")
      #expect(account.company.companyName == "Acme Observability Ltd")
      #expect(account.phone == "+6561234567")
      for login in ["acme", "Billing@Acme.example", "+65 6123-4567"] {
        let opened = try await fixture.center.login(
          .with {
            $0.login = login
            $0.password = BillingFixture.password
          }
        )
        #expect(opened.billingAccount.id == account.id)
        let own = try await fixture.center.getBillingAccount(
          .init(),
          metadata: ["authorization": "Bearer \(opened.sessionToken)"]
        )
        #expect(own.billingAccount == account)
      }
    }
  }

  @Test("bad input names every bad field, duplicates are refused, nothing is written")
  func validation() async throws {
    try await BillingFixture.with { fixture in
      let error = try await #require(throws: RPCError.self) {
        try await fixture.center.registerBillingAccount(
          .with {
            $0.username = "x"
            $0.password = "password"
            $0.email = "nope"
            $0.company = .with { $0.companyName = "  " }
          }
        )
      }
      #expect(error.code == .invalidArgument)
      #expect(
        Set(error.violatedFields)
          == [
            "username", "password", "email", "company.company_name", "company.industry",
            "company.region", "company.contact_name",
          ]
      )
      #expect(try await fixture.count("billing_accounts") == 0)

      try await fixture.register(phone: "+6561234567")
      for (username, email, phone, field) in [
        ("ACME", "x@acme.example", "", "username"), ("other", "BILLING@acme.example", "", "email"),
        ("third", "y@acme.example", "+65 6123 4567", "phone"),
      ] {
        let duplicate = try await #require(throws: RPCError.self) {
          try await fixture.register(username, email: email, phone: phone)
        }
        #expect(duplicate.code == .alreadyExists)
        #expect(duplicate.violatedFields == [field])
      }
      #expect(try await fixture.count("billing_accounts") == 1)
    }
  }

  @Test("a registration retried with its creation key gets the first account, not 'username taken'")
  func creationKey() async throws {
    try await BillingFixture.with { fixture in
      let first = try await fixture.register(creationKey: "sub-1/billing-account")
      let retried = try await fixture.register(creationKey: "sub-1/billing-account")
      #expect(retried.id == first.id)
      #expect(try await fixture.count("billing_accounts") == 1)
      // Without the key (or with another) the username is taken, as before.
      let taken = try await #require(throws: RPCError.self) {
        try await fixture.register(creationKey: "other")
      }
      #expect(taken.code == .alreadyExists)
      // The key does not reveal someone else's account.
      let foreign = try await #require(throws: RPCError.self) {
        try await fixture.register(
          "globex",
          email: "billing@globex.example",
          creationKey: "sub-1/billing-account"
        )
      }
      #expect(foreign.code == .invalidArgument)
      // Two at once with one key: one account, one answer.
      async let a = fixture.register(
        "initech",
        email: "billing@initech.example",
        creationKey: "sub-2/billing-account"
      )
      async let b = fixture.register(
        "initech",
        email: "billing@initech.example",
        creationKey: "sub-2/billing-account"
      )
      let (one, two) = try await (a, b)
      #expect(one.id == two.id)
      #expect(try await fixture.count("billing_accounts") == 2)
      let tooLong = try await #require(throws: RPCError.self) {
        try await fixture.register(
          "hooli",
          email: "billing@hooli.example",
          creationKey: String(repeating: "k", count: 129)
        )
      }
      #expect(tooLong.code == .invalidArgument)
      #expect(tooLong.violatedFields == ["creation_key"])
      #expect(try await fixture.count("billing_accounts") == 2)
    }
  }

  @Test("a session reads its own account only; the internal credential reads any")
  func access() async throws {
    try await BillingFixture.with { fixture in
      let acme = try await fixture.register()
      let other = try await fixture.register("globex", email: "billing@globex.example")
      let login = try await fixture.center.login(
        .with {
          $0.login = "acme"
          $0.password = BillingFixture.password
        }
      )
      let session: Metadata = ["authorization": "Bearer \(login.sessionToken)"]
      let foreign = try await #require(throws: RPCError.self) {
        try await fixture.center.getBillingAccount(
          .with { $0.billingAccountID = other.id },
          metadata: session
        )
      }
      #expect(foreign.code == .notFound)
      let anonymous = try await #require(throws: RPCError.self) {
        try await fixture.center.getBillingAccount(.with { $0.billingAccountID = acme.id })
      }
      #expect(anonymous.code == .unauthenticated)
      let viaSuite = try await fixture.center.getBillingAccount(
        .with { $0.billingAccountID = other.id },
        metadata: BillingFixture.internalCall
      )
      #expect(viaSuite.billingAccount == other)
      let internalOnly = try await #require(throws: RPCError.self) {
        try await fixture.internalAPI.findBillingAccountByCloudAccount(
          .with { $0.identity = BillingFixture.identity() },
          metadata: session
        )
      }
      #expect(internalOnly.code == .permissionDenied)
    }
  }
}
