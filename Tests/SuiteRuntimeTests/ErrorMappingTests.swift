import GRPCCore
import GRPCProtobuf
import SuiteErrors
import SuiteRuntime
import Testing

@Suite("Errors on the wire")
struct ErrorMappingTests {
  struct Leaky: Error, CustomStringConvertible {
    var description: String { "ERROR: relation \"accounts\" does not exist (SQLSTATE 42P01)" }
  }

  @Test("service errors carry google.rpc details")
  func details() throws {
    let error = ErrorMappingInterceptor.rpcError(
      for: ServiceError.invalid([FieldViolation(field: "email", description: "is required")]))
    #expect(error.code == .invalidArgument)
    let status = try #require(try error.unpackGoogleRPCStatus())
    #expect(status.details.compactMap(\.badRequest).first?.violations.first?.field == "email")

    let notFound = ErrorMappingInterceptor.rpcError(
      for: ServiceError(.notFound(resourceType: "workspace", name: "w1"), "workspace w1 not found"))
    #expect(notFound.code == .notFound)
    #expect(try notFound.unpackGoogleRPCStatus()?.details.first?.resourceInfo?.name == "w1")
  }

  @Test("unexpected errors leave as INTERNAL without their text")
  func unexpected() {
    let error = ErrorMappingInterceptor.rpcError(for: Leaky())
    #expect(error.code == .internalError)
    #expect(!error.message.contains("SQLSTATE"))
    #expect(!error.message.contains("accounts"))
  }
}
