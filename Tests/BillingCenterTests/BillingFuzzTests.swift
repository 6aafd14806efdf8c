import GRPCCore
import GuanceContracts
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Fuzzed requests to the billing center")
struct BillingFuzzTests {
  @Test("random and mutated bodies to every public method are answered, never with a server fault")
  func everyMethod() async throws {
    try await BillingFixture.with { fixture in
      let account = try await fixture.register()
      let workspace = try await fixture.workspace()
      let session = try await fixture.center.login(
        .with {
          $0.login = "acme"
          $0.password = BillingFixture.password
        }
      ).sessionToken
      typealias Center = Guance_Billing_V1_BillingCenterService.Method
      let seeds: [(MethodDescriptor, any SwiftProtobuf.Message)] = [
        (
          Center.RegisterBillingAccount.descriptor,
          Guance_Billing_V1_RegisterBillingAccountRequest.with {
            $0.username = "globex"
            $0.password = BillingFixture.password
            $0.email = "billing@globex.example"
            $0.company = BillingFixture.company
          }
        ),
        (
          Center.Login.descriptor,
          Guance_Billing_V1_LoginRequest.with {
            $0.login = "acme"
            $0.password = BillingFixture.password
          }
        ),
        (
          Center.StartBindingVerification.descriptor,
          Guance_Billing_V1_StartBindingVerificationRequest.with { $0.username = "acme" }
        ),
        (
          Center.BindWorkspace.descriptor,
          Guance_Billing_V1_BindWorkspaceRequest.with {
            $0.billingAccountID = account.id
            $0.workspaceID = workspace.id
          }
        ),
        (
          Center.UnbindWorkspace.descriptor,
          Guance_Billing_V1_UnbindWorkspaceRequest.with {
            $0.billingAccountID = account.id
            $0.workspaceID = workspace.id
          }
        ),
        (
          Center.GetDailyBill.descriptor,
          Guance_Billing_V1_GetDailyBillRequest.with {
            $0.billingAccountID = account.id
            $0.day = "2026-12-01"
          }
        ),
        (
          Center.ListBills.descriptor,
          Guance_Billing_V1_ListBillsRequest.with {
            $0.billingAccountID = account.id
            $0.month = "2026-12"
          }
        ),
      ]
      let fuzzer = RequestFuzzer(
        methods: Center.descriptors,
        seeds: try RequestFuzzer.bodies(seeds),
        values: [account.id, workspace.id, session, "2026-12-01", "2026-12"],
        metadata: [[:], ["authorization": "Bearer \(session)"]]
      )
      try await fuzzer.expectNoServerFaults(fixture.centerRPC)
    }
  }
}
