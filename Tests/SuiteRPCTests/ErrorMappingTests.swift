import GRPCCore
import GRPCProtobuf
import SuiteErrors
import SuiteKit
import SuiteRPC
import Testing

@Suite("Errors on the wire")
struct ErrorMappingTests {
  struct Leaky: Error, CustomStringConvertible {
    var description: String { "ERROR: relation \"accounts\" does not exist (SQLSTATE 42P01)" }
  }

  @Test("service errors carry google.rpc details, an ErrorInfo first")
  func details() throws {
    let error = ErrorMappingInterceptor.rpcError(
      for: ServiceError.invalid([FieldViolation(field: "email", description: "is required")]),
      domain: "guance.test.v1"
    )
    #expect(error.code == .invalidArgument)
    let status = try #require(try error.unpackGoogleRPCStatus())
    #expect(status.details.compactMap(\.badRequest).first?.violations.first?.field == "email")
    #expect(status.details.first?.errorInfo?.reason == "INVALID_FIELDS")
    #expect(status.details.first?.errorInfo?.domain == "guance.test.v1")

    let notFound = ErrorMappingInterceptor.rpcError(
      for: ServiceError(.notFound(resourceType: "workspace", name: "w1"), "workspace w1 not found"),
      domain: "guance.test.v1"
    )
    #expect(notFound.code == .notFound)
    let found = try #require(try notFound.unpackGoogleRPCStatus())
    #expect(found.details.compactMap(\.resourceInfo).first?.name == "w1")
    #expect(found.details.compactMap(\.errorInfo).first?.reason == "WORKSPACE_NOT_FOUND")
  }

  @Test(
    "every error has a stable UPPER_SNAKE reason: its kind's, or its own where kinds are shared"
  )
  func reasons() {
    let upperSnake = /[A-Z][A-Z0-9_]*/
    let errors: [(ServiceError, String)] = [
      (.invalid(field: "basic.username", "is required"), "INVALID_FIELDS"),
      (
        ServiceError(.notFound(resourceType: "email_challenge", name: "c"), "m"),
        "EMAIL_CHALLENGE_NOT_FOUND"
      ),
      (ServiceError(.alreadyExists(field: "basic.username"), "m"), "USERNAME_TAKEN"),
      (
        ServiceError(.failedPrecondition(type: "WORKSPACE_BINDING", subject: "w"), "m"),
        "WORKSPACE_BINDING"
      ),
      (
        ServiceError(
          .failedPrecondition(type: "WORKSPACE_BINDING", subject: "w"),
          reason: "WORKSPACE_BOUND_ELSEWHERE",
          "m"
        ),
        "WORKSPACE_BOUND_ELSEWHERE"
      ),
      (ServiceError(.unavailable, "m"), "UNAVAILABLE"),
      (ServiceError.invalid(field: "code", "wrong").because("WRONG_CODE"), "WRONG_CODE"),
    ]
    for (error, reason) in errors {
      #expect(error.reason == reason)
      #expect(error.reason.wholeMatch(of: upperSnake) != nil)
    }
  }
  @Test("unexpected errors leave as INTERNAL without their text")
  func unexpected() {
    let error = ErrorMappingInterceptor.rpcError(for: Leaky(), domain: "guance.test.v1")
    #expect(error.code == .internalError)
    #expect(!error.message.contains("SQLSTATE"))
    #expect(!error.message.contains("accounts"))
  }

  @Test("a write refused for its caller's deadline (DeadlinePassed) leaves as DEADLINE_EXCEEDED")
  func deadlinePassed() {
    let error = ErrorMappingInterceptor.rpcError(for: DeadlinePassed(), domain: "guance.test.v1")
    #expect(error.code == .deadlineExceeded)
    #expect(error.message.contains("nothing was written"))
  }
}
