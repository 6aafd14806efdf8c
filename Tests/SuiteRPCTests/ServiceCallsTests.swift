import GRPCCore
import SuiteKit
import SuiteRPC
import SuiteTesting
import Testing

/// How a service calls another (`ServiceCalls`, used by the gateway's billing and console
/// clients and the billing center's console client): the credential, the deadline, and the one
/// rule that tells silence (try again later) from a refusal (the callee's answer, passed on).
@Suite("Calls to another service: credential, deadline, silence and refusals")
struct ServiceCallsTests {
  @Test(
    "UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED and UNKNOWN are silence, worth a later retry; every other code is a refusal"
  )
  func silenceAndRefusals() {
    let silence: [RPCError.Code] = [.unavailable, .deadlineExceeded, .cancelled, .unknown]
    let refusals: [RPCError.Code] = [
      .invalidArgument, .notFound, .alreadyExists, .permissionDenied, .resourceExhausted,
      .failedPrecondition, .aborted, .outOfRange, .unimplemented, .internalError, .dataLoss,
      .unauthenticated,
    ]
    let silent = silence.filter { $0.isSilence }
    let refusalsTakenForSilence = refusals.filter { $0.isSilence }
    #expect(silent.count == silence.count)
    #expect(refusalsTakenForSilence.isEmpty, "\(refusalsTakenForSilence)")
  }

  struct Silent: Error {}

  @Test(
    "a call presents the internal credential, gets what is left of the RPC's deadline less the margin (or its own deadline), and turns silence, not refusals, into the caller's error"
  )
  func oneWayToCall() async throws {
    let calls = ServiceCalls(
      to: "billing center",
      internalCredential: "secret",
      timeout: .seconds(5)
    )
    #expect(calls.credential[stringValues: "authorization"].map { $0 } == ["Bearer secret"])
    // Outside an RPC: the call's own deadline.
    #expect(calls.options.timeout == .seconds(5))
    let serving = RequestContext.serving("test.Demo/Call", deadline: .now + .seconds(1))
    let given = try #require(RequestContext.$current.withValue(serving) { calls.options.timeout })
    #expect(given <= .seconds(1) - RequestContext.hopMargin)
    #expect(given > .zero)

    for code in [RPCError.Code.unavailable, .deadlineExceeded, .cancelled, .unknown] {
      await #expect(throws: Silent.self) {
        try await calls.call(whenSilent: { _ in Silent() }) {
          throw RPCError(code: code, message: "no answer")
        }
      }
    }
    let refusal = try await #require(throws: RPCError.self) {
      try await calls.call(whenSilent: { _ in Silent() }) {
        throw RPCError(code: .invalidArgument, message: "bad field")
      }
    }
    #expect(refusal.code == .invalidArgument)
    let answer = try await calls.call(whenSilent: { _ in Silent() }) { "answered" }
    #expect(answer == "answered")
  }
}
