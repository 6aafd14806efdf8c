import GRPCCore
public import GRPCProtobuf
public import SuiteErrors

extension ServiceError {
  /// The one mapping from service errors to gRPC statuses with `google.rpc` details: every
  /// status carries an `ErrorInfo` (the error's reason, in `domain`: the answering service's
  /// proto package) ahead of the details its kind adds.
  public func googleRPCStatus(domain: String) -> GoogleRPCStatus {
    var status = kindStatus
    status.details.insert(.errorInfo(reason: reason, domain: domain), at: 0)
    return status
  }

  private var kindStatus: GoogleRPCStatus {
    switch kind {
    case .invalidArgument(let violations):
      GoogleRPCStatus(
        code: .invalidArgument,
        message: message,
        details: [
          .badRequest(
            violations: violations.map {
              .init(field: $0.field, description: $0.description)
            }
          )
        ]
      )
    case .notFound(let resourceType, let name):
      GoogleRPCStatus(
        code: .notFound,
        message: message,
        details: [.resourceInfo(type: resourceType, name: name, errorDescription: message)]
      )
    case .alreadyExists(let field):
      GoogleRPCStatus(
        code: .alreadyExists,
        message: message,
        details: [.badRequest(violations: [.init(field: field, description: message)])]
      )
    case .failedPrecondition(let type, let subject):
      GoogleRPCStatus(
        code: .failedPrecondition,
        message: message,
        details: [
          .preconditionFailure(violations: [
            .init(type: type, subject: subject, description: message)
          ])
        ]
      )
    case .resourceExhausted(let retryAfter):
      GoogleRPCStatus(
        code: .resourceExhausted,
        message: message,
        details: retryAfter.map { [.retryInfo(delay: $0)] } ?? []
      )
    case .unauthenticated:
      GoogleRPCStatus(code: .unauthenticated, message: message, details: [])
    case .permissionDenied:
      GoogleRPCStatus(code: .permissionDenied, message: message, details: [])
    case .unavailable:
      GoogleRPCStatus(code: .unavailable, message: message, details: [])
    case .misconfigured:
      GoogleRPCStatus(code: .internalError, message: message, details: [])
    }
  }
}
