public import GRPCCore
public import GRPCProtobuf

extension RPCError {
  /// The `google.rpc` status details the server attached, decoded.
  public var googleDetails: [ErrorDetails] {
    ((try? unpackGoogleRPCStatus())?.details) ?? []
  }

  /// Fields named by `BadRequest` violations, in the server's order.
  public var violatedFields: [String] {
    googleDetails.compactMap(\.badRequest).flatMap(\.violations).map(\.field)
  }

  /// `ResourceInfo` type and name, when the server said what was not found.
  public var missingResource: (type: String, name: String)? {
    googleDetails.compactMap(\.resourceInfo).first.map { ($0.type, $0.name) }
  }

  /// The `ErrorInfo` reason and domain: what went wrong, in the answering service's words.
  public var errorInfo: (reason: String, domain: String)? {
    googleDetails.compactMap(\.errorInfo).first.map { ($0.reason, $0.domain) }
  }

  /// The `PreconditionFailure` violation types.
  public var preconditionTypes: [String] {
    googleDetails.compactMap(\.preconditionFailure).flatMap(\.violations).map(\.type)
  }
}
