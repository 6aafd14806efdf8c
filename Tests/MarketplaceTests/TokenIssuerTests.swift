import Foundation
import MarketplaceEmulator
import Testing

@Suite("The emulator's access tokens")
struct TokenIssuerTests {
  static let key = Result { try TokenIssuer.newPrivateKeyPEM() }

  func issuer() async throws -> TokenIssuer {
    try await TokenIssuer(kid: "test", privateKeyPEM: Self.key.get())
  }

  @Test("a token verified once is still refused when it expires, and another token is checked anew")
  func verifiedTokensStillExpire() async throws {
    let issuer = try await issuer()
    // Issued almost an hour ago: it expires in about two seconds.
    let (token, _) = try await issuer.accessToken(
      tenantID: "tenant", clientID: "client", now: Date().addingTimeInterval(-3598))
    let claims = try await issuer.verifyAccessToken(token)
    #expect(try await issuer.verifyAccessToken(token) == claims)

    // Same header and claims, another signature: refused although its twin was accepted.
    var forged = token
    forged.removeLast(4)
    forged += forged.hasSuffix("AAAA") ? "BBBB" : "AAAA"
    await #expect(throws: (any Error).self) { try await issuer.verifyAccessToken(forged) }
    #expect(try await issuer.verifyAccessToken(token) == claims)

    try await Task.sleep(for: .milliseconds(3100))
    await #expect(throws: (any Error).self) { try await issuer.verifyAccessToken(token) }
  }
}
