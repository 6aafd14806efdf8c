public import GRPCCore

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
