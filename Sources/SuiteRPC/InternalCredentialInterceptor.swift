public import GRPCCore
import SuiteKit

/// Guards the services meant for the suite's other services: the caller must present the
/// shared internal credential as a bearer token. (mTLS replaces this in production.)
public struct InternalCredentialInterceptor: ServerInterceptor {
  private let credential: InternalCredential

  public init(credential: String) {
    self.credential = InternalCredential(credential)
  }

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    try Self.check(request.metadata, against: credential)
    return try await next(request, context)
  }

  /// Throws UNAUTHENTICATED without a bearer token, PERMISSION_DENIED with a wrong one.
  static func check(_ metadata: Metadata, against credential: InternalCredential) throws(RPCError) {
    guard let presented = RequestContextInterceptor.bearerToken(from: metadata) else {
      throw RPCError(
        code: .unauthenticated,
        message: "this RPC needs the internal service credential"
      )
    }
    guard credential.admits(presented) else {
      throw RPCError(code: .permissionDenied, message: "the internal service credential is wrong")
    }
  }
}
