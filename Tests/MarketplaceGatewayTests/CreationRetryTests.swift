import AccountKit
import GRPCCore
import MarketplaceGateway
import SuiteErrors
import SuiteTesting
import Testing

/// The gateway's creation calls retried after a lost answer, against the real services: the
/// same details find the first creation; other details are refused in the activation's terms
/// (the pages show them), not as a bad `creation_key` field the pages never sent.
@Suite("Creations retried by the gateway", .startsServices)
struct CreationRetryTests {
  static let password = "correct horse battery staple"

  static func newAccount(_ name: String, email: String? = nil) -> NewAccount {
    NewAccount(
      username: name,
      password: password,
      passwordConfirmation: password,
      email: email ?? "\(name)@contoso.example",
      phone: ""
    )
  }

  @Test("a workspace: the same account gets the first one; another account is told it exists")
  func workspace() async throws {
    try await SuiteHarness.with { suite in
      try await SuiteHarness.client(suite.console) { client in
        let console = GRPCConsoleDirectory(
          client: client,
          internalCredential: SuiteHarness.credential,
          timeout: .testPatience
        )
        let workspace = NewWorkspace(name: "Ops", language: "en", site: "us1")
        let key = "subscription-1/workspace"
        let first = try await console.createWorkspace(
          workspace,
          owner: .new(Self.newAccount("alice")),
          ownerFields: "new_account.",
          termsAccepted: true,
          creationKey: key
        )
        let again = try await console.createWorkspace(
          workspace,
          owner: .new(Self.newAccount("alice")),
          ownerFields: "new_account.",
          termsAccepted: true,
          creationKey: key
        )
        #expect(again.id == first.id)
        // The console's directory finds it by its key alone (the gateway finishing a creation
        // whose call died); a key nothing was created with finds nothing.
        #expect(try await console.workspace(createdWith: key) == first)
        #expect(try await console.workspace(createdWith: "subscription-9/workspace") == nil)
        await #expect(throws: ActivationError.workspaceCreatedWithAnotherAccount) {
          try await console.createWorkspace(
            workspace,
            owner: .new(Self.newAccount("bob")),
            ownerFields: "new_account.",
            termsAccepted: true,
            creationKey: key
          )
        }
        // Another subscription's creation with a taken username: the console's refusal names
        // the activation request's field, with the console's reason.
        let taken = try await #require(throws: ServiceError.self) {
          try await console.createWorkspace(
            workspace,
            owner: .new(Self.newAccount("alice", email: "another@contoso.example")),
            ownerFields: "new_account.",
            termsAccepted: true,
            creationKey: "subscription-2/workspace"
          )
        }
        #expect(taken.kind == .alreadyExists(field: "new_account.username"))
        #expect(taken.reason == "USERNAME_TAKEN")
      }
    }
  }

  @Test(
    "a billing center account: the same email gets the first one; another email is told it exists"
  )
  func billingAccount() async throws {
    try await SuiteHarness.with { suite in
      try await SuiteHarness.client(suite.billing) { client in
        let billing = GRPCBillingDirectory(
          client: client,
          internalCredential: SuiteHarness.credential,
          timeout: .testPatience
        )
        let company = CompanyInformation(
          companyName: "Contoso",
          industry: "Software",
          region: "EU",
          contactName: "Alice",
          description: ""
        )
        let key = "subscription-1/billing-account"
        let first = try await billing.register(
          Self.newAccount("alice"),
          company: company,
          creationKey: key
        )
        let again = try await billing.register(
          Self.newAccount("alice"),
          company: company,
          creationKey: key
        )
        #expect(again == first)
        await #expect(throws: ActivationError.billingAccountRegisteredWithOtherDetails) {
          try await billing.register(Self.newAccount("bob"), company: company, creationKey: key)
        }
        // Another subscription's registration with a taken username: named as the request's.
        let taken = try await #require(throws: ServiceError.self) {
          try await billing.register(
            Self.newAccount("alice", email: "another@contoso.example"),
            company: company,
            creationKey: "subscription-2/billing-account"
          )
        }
        #expect(taken.kind == .alreadyExists(field: "basic.username"))
        #expect(taken.reason == "USERNAME_TAKEN")
      }
    }
  }
}
