import GRPCCore
import GuanceContracts
import SuiteTesting
import SwiftProtobuf
import Testing

@Suite("Fuzzed requests to the console")
struct ConsoleFuzzTests {
  @Test("random and mutated bodies to every public method are answered, never with a server fault")
  func everyMethod() async throws {
    try await ConsoleFixture.with { fixture in
      let registered = try await fixture.registerAndCreate()
      let session = try await fixture.login().sessionToken
      let seeds: [(MethodDescriptor, any SwiftProtobuf.Message)] = [
        (
          Guance_Console_V1_WorkspaceConsoleService.Method.RegisterAccount.descriptor,
          Guance_Console_V1_RegisterAccountRequest.with {
            $0.username = "bob"
            $0.password = ConsoleFixture.password
            $0.email = "bob@example.com"
            $0.phone = "+14155550100"
          }
        ),
        (
          Guance_Console_V1_WorkspaceConsoleService.Method.SendEmailCode.descriptor,
          Guance_Console_V1_SendEmailCodeRequest.with { $0.email = "alice@example.com" }
        ),
        (
          Guance_Console_V1_WorkspaceConsoleService.Method.CreateWorkspace.descriptor,
          Guance_Console_V1_CreateWorkspaceRequest.with {
            $0.workspaceName = "Second"
            $0.language = "en"
            $0.site = "us1"
            $0.email = "alice@example.com"
            $0.challengeID = "00000000-0000-0000-0000-000000000000"
            $0.code = "123456"
            $0.termsAccepted = true
          }
        ),
        (
          Guance_Console_V1_WorkspaceConsoleService.Method.GetWorkspace.descriptor,
          Guance_Console_V1_GetWorkspaceRequest.with { $0.workspaceID = registered.workspace.id }
        ),
        (
          Guance_Console_V1_WorkspaceConsoleService.Method.Login.descriptor,
          Guance_Console_V1_LoginRequest.with {
            $0.login = "alice"
            $0.password = ConsoleFixture.password
          }
        ),
      ]
      let fuzzer = RequestFuzzer(
        methods: Guance_Console_V1_WorkspaceConsoleService.Method.descriptors,
        seeds: try RequestFuzzer.bodies(seeds),
        values: [registered.workspace.id, registered.account.id, session],
        metadata: [[:], ConsoleFixture.bearer(session)]
      )
      try await fuzzer.expectNoServerFaults(fixture.rpc)
    }
  }
}
