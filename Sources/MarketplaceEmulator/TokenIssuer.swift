import Crypto
public import Foundation
public import JWTKit
import Synchronization
import _CryptoExtras

/// Signs the emulator's tokens with one RSA key (RS256, like Entra ID) and publishes it as a
/// JWKS: access tokens for the SaaS and metering APIs, and the bearer tokens of webhooks.
public struct TokenIssuer: Sendable {
  /// The marketplace's well-known resource / app id (docs/azure-saas-contract.md §1).
  public static let marketplaceResource = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"

  public let kid: String
  private let keys: JWTKeyCollection
  private let publicKey: JWTKit.Insecure.RSA.PublicKey
  private let lifetime: TimeInterval
  /// The access token verified last: a client sends the same one until it nears expiry, so
  /// its signature is checked once; its time claims are checked on every use.
  private let lastVerified = LastVerified()

  private final class LastVerified: Sendable {
    let entry = Mutex<(token: String, claims: AccessClaims)?>(nil)
  }

  /// Claims of an access token to the marketplace APIs (Entra v1 shape).
  public struct AccessClaims: JWTPayload, Equatable {
    var aud: AudienceClaim
    var iss: IssuerClaim
    var tid: String
    var appid: String
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim
    var iat: IssuedAtClaim

    /// Only the signature is checked while decoding: the times are checked by
    /// `verifyAccessToken` against the clock it is given.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    func verifyTimes(at now: Date) throws {
      try exp.verifyNotExpired(currentDate: now)
      try nbf.verifyNotBefore(currentDate: now)
    }
  }

  /// Creates the issuer from a PEM private key (made once and stored by the caller).
  public init(kid: String, privateKeyPEM: String, lifetime: TimeInterval = 3600) async throws {
    let privateKey = try JWTKit.Insecure.RSA.PrivateKey(pem: privateKeyPEM)
    self.kid = kid
    self.publicKey = privateKey.publicKey
    self.lifetime = lifetime
    self.keys = await JWTKeyCollection().add(
      rsa: privateKey,
      digestAlgorithm: .sha256,
      kid: JWKIdentifier(string: kid)
    )
  }

  /// A new 2048-bit key, PEM encoded.
  public static func newPrivateKeyPEM() throws -> String {
    try JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
      .pemRepresentation
  }

  /// A client-credentials access token for `clientID` of `tenantID`.
  public func accessToken(
    tenantID: String,
    clientID: String,
    now: Date = Date()
  ) async throws
    -> (token: String, expiresAt: Date)
  {
    let expires = now.addingTimeInterval(lifetime)
    let claims = AccessClaims(
      aud: .init(value: Self.marketplaceResource),
      iss: .init(value: "https://sts.windows.net/\(tenantID)/"),
      tid: tenantID,
      appid: clientID,
      exp: .init(value: expires),
      nbf: .init(value: now.addingTimeInterval(-60)),
      iat: .init(value: now)
    )
    return (try await keys.sign(claims, kid: JWKIdentifier(string: kid)), expires)
  }

  /// The claims of an access token for the marketplace APIs valid at `now`; throws otherwise.
  public func verifyAccessToken(_ token: String, now: Date = Date()) async throws -> AccessClaims {
    if let known = lastVerified.entry.withLock({ $0?.token == token ? $0?.claims : nil }) {
      try known.verifyTimes(at: now)
      return known
    }
    let claims = try await keys.verify(token, as: AccessClaims.self)
    guard claims.aud.value.contains(Self.marketplaceResource) else {
      throw JWTError.claimVerificationFailure(failedClaim: claims.aud, reason: "wrong audience")
    }
    try claims.verifyTimes(at: now)
    lastVerified.entry.withLock { $0 = (token, claims) }
    return claims
  }

  /// Signs arbitrary claims with the emulator's key (webhook bearer tokens).
  public func sign(_ claims: some JWTPayload) async throws -> String {
    try await keys.sign(claims, kid: JWKIdentifier(string: kid))
  }

  /// `{"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid", "n", "e"}]}`.
  public func jwks() throws -> Data {
    let (modulus, exponent) = try publicKey.getKeyPrimitives()
    let key: [String: String] = [
      "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
      "n": Self.base64URL(modulus), "e": Self.base64URL(exponent),
    ]
    return try JSONSerialization.data(withJSONObject: ["keys": [key]], options: [.sortedKeys])
  }

  static func base64URL(_ data: Data) -> String {
    data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
      .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }
}
