import GRPCCore
import SuiteRuntime
import Testing

/// The one rule by which a service's client of another tells silence (try again later) from a
/// refusal (the callee's answer, passed on): the gateway's billing and console clients and the
/// billing center's console client all follow `RPCError.Code.isSilence`.
@Suite("Another service's silence and its refusals")
struct CallSilenceTests {
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
}
