import GRPCCore
import GuanceContracts
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Fuzzed requests to the activation service", .startsServices)
struct ActivationFuzzTests {
  @Test(
    "random and mutated bodies to every activation method are answered, never with a server fault"
  )
  func everyMethod() async throws {
    try await ActivationTests.with { fixture in
      let purchase = try await fixture.emulator.purchase()
      let session = try await fixture.client.resolveActivation(
        .with { $0.marketplaceToken = purchase.token }
      )
      .activation.sessionID
      typealias Activation = Guance_Gateway_V1_ActivationService.Method
      let seeds: [(MethodDescriptor, any SwiftProtobuf.Message)] = [
        (
          Activation.ResolveActivation.descriptor,
          Guance_Gateway_V1_ResolveActivationRequest.with { $0.marketplaceToken = purchase.token }
        ),
        (
          Activation.GetActivation.descriptor,
          Guance_Gateway_V1_GetActivationRequest.with { $0.sessionID = session }
        ),
        (
          Activation.StartBillingAccountBinding.descriptor,
          Guance_Gateway_V1_StartBillingAccountBindingRequest.with {
            $0.sessionID = session
            $0.billingUsername = "acme"
          }
        ),
        (
          Activation.ConfirmBillingAccountBinding.descriptor,
          Guance_Gateway_V1_ConfirmBillingAccountBindingRequest.with {
            $0.sessionID = session
            $0.code = "123456"
          }
        ),
        (
          Activation.RegisterAndActivate.descriptor,
          Guance_Gateway_V1_RegisterAndActivateRequest.with {
            $0.sessionID = session
            $0.basic = .with {
              $0.username = "acme"
              $0.password = "correct horse battery"
              $0.passwordConfirmation = "correct horse battery"
              $0.email = "billing@acme.example"
            }
            $0.company = .with {
              $0.companyName = "Acme"
              $0.industry = "Software"
              $0.region = "Singapore"
              $0.contactName = "Ada"
            }
            $0.workspace = .with {
              $0.name = "Ops"
              $0.language = "en"
              $0.site = "us1"
            }
            $0.termsAccepted = true
          }
        ),
        (
          Activation.BindWorkspace.descriptor,
          Guance_Gateway_V1_BindWorkspaceRequest.with {
            $0.sessionID = session
            $0.workspaceID = "00000000-0000-0000-0000-000000000001"
          }
        ),
      ]
      let fuzzer = RequestFuzzer(
        methods: Activation.descriptors,
        seeds: try RequestFuzzer.bodies(seeds),
        values: [session, purchase.id, purchase.token]
      )
      try await fuzzer.expectNoServerFaults(fixture.rpc)
    }
  }
}
