public import GRPCCore
import SuiteKit

extension RPCError.Code {
  /// Whether a call to another service that ended with this code went unanswered rather than
  /// refused: the callee is down or restarting (UNAVAILABLE), did not answer in time
  /// (DEADLINE_EXCEEDED), the call was cut off (CANCELLED), or it broke in a way nobody could
  /// name (UNKNOWN, as a stream that breaks mid-answer ends). Such a call is worth making again
  /// later; any other code is the callee's answer and is passed on as it is. The one rule every
  /// service's client of another follows.
  public var isSilence: Bool {
    switch self {
    case .unavailable, .deadlineExceeded, .cancelled, .unknown: true
    default: false
    }
  }
}

/// How this service calls another, decided in one place for every client of another service:
/// the internal credential it presents, each call's deadline (its own, or sooner what is left
/// of the RPC being served: `RequestContext.callTimeout`), and which failures are the callee's
/// silence (`RPCError.Code.isSilence`), worth a retry later, rather than its answer.
public struct ServiceCalls: Sendable {
  /// The callee as messages name it ("billing center").
  public let service: String
  /// The internal credential, for the callee's internal and admin methods (its public ones
  /// are called without it).
  public let credential: Metadata
  private let timeout: Duration

  /// `timeout`: each call's own deadline.
  public init(to service: String, internalCredential: String, timeout: Duration) {
    self.service = service
    self.credential = ["authorization": "Bearer \(internalCredential)"]
    self.timeout = timeout
  }

  /// The options of a call made now: its deadline.
  public var options: CallOptions {
    var options = CallOptions.defaults
    options.timeout = RequestContext.current.callTimeout(timeout)
    return options
  }

  /// Runs one call; the callee's silence is thrown as `silent(error)`, and any other failure
  /// passes through unchanged as the callee's answer.
  public func call<Result>(
    whenSilent silent: (RPCError) -> any Error,
    _ body: () async throws -> Result
  ) async throws -> Result {
    do {
      return try await body()
    } catch let error as RPCError where error.code.isSilence {
      throw silent(error)
    }
  }
}
