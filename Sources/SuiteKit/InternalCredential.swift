import Crypto

/// The shared credential the suite's services present to each other as a bearer token.
public struct InternalCredential: Sendable {
  private let digest: SHA256.Digest

  public init(_ credential: String) {
    digest = SHA256.hash(data: Array(credential.utf8))
  }

  /// Whether `token` is the credential. Digests are compared, so the time taken does not
  /// depend on where the strings differ.
  public func admits(_ token: String?) -> Bool {
    guard let token else { return false }
    return SHA256.hash(data: Array(token.utf8)) == digest
  }
}
