import GRPCCore
import MarketplaceGateway
import SuiteTesting
import Testing

/// The gateway's creation calls retried after a lost answer, against the real services: the
/// same details find the first creation; other details are refused in the activation's terms
/// (the pages show them), not as a bad `creation_key` field the pages never sent.
@Suite("Creations retried by the gateway", .startsServices)
struct CreationRetryTests {
  static let password = "correct horse battery staple"

  static func newAccount(_ name: String) -> NewAccount {
    NewAccount(
      username: name, password: password, passwordConfirmation: password, email: "\(name)@contoso.example", phone: "")
  }

  @Test("a workspace: the same account gets the first one; another account is told it exists")
  func workspace() async throws {
    try await SuiteHarness.with { suite in
      try await SuiteHarness.client(suite.console) { client in
        let console = GRPCConsoleDirectory(client: client, timeout: .testPatience)
        let workspace = NewWorkspace(name: "Ops", language: "en", site: "us1")
        let key = "subscription-1/workspace"
        let first = try await console.createWorkspace(
          workspace, owner: .new(Self.newAccount("alice")), termsAccepted: true, creationKey: key)
        let again = try await console.createWorkspace(
          workspace, owner: .new(Self.newAccount("alice")), termsAccepted: true, creationKey: key)
        #expect(again.id == first.id)
        await #expect(throws: ActivationError.workspaceCreatedWithAnotherAccount) {
          try await console.createWorkspace(
            workspace, owner: .new(Self.newAccount("bob")), termsAccepted: true, creationKey: key)
        }
      }
    }
  }

  @Test("a billing center account: the same email gets the first one; another email is told it exists")
  func billingAccount() async throws {
    try await SuiteHarness.with { suite in
      try await SuiteHarness.client(suite.billing) { client in
        let billing = GRPCBillingDirectory(
          client: client, internalCredential: SuiteHarness.credential, timeout: .testPatience)
        let company = CompanyInformation(
          companyName: "Contoso", industry: "Software", region: "EU", contactName: "Alice", description: "")
        let key = "subscription-1/billing-account"
        let first = try await billing.register(Self.newAccount("alice"), company: company, creationKey: key)
        let again = try await billing.register(Self.newAccount("alice"), company: company, creationKey: key)
        #expect(again == first)
        await #expect(throws: ActivationError.billingAccountRegisteredWithOtherDetails) {
          try await billing.register(Self.newAccount("bob"), company: company, creationKey: key)
        }
      }
    }
  }
}
