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
    // The test's own clock: issued at `issued`, the token lasts an hour.
    let issued = Date(timeIntervalSince1970: 1_800_000_000)
    let (token, expiresAt) = try await issuer.accessToken(
      tenantID: "tenant",
      clientID: "client",
      now: issued
    )
    #expect(expiresAt == issued.addingTimeInterval(3600))
    let inTime = issued.addingTimeInterval(3598)
    let claims = try await issuer.verifyAccessToken(token, now: inTime)
    #expect(try await issuer.verifyAccessToken(token, now: inTime) == claims)

    // Same header and claims, another signature: refused although its twin was accepted.
    var forged = token
    forged.removeLast(4)
    forged += forged.hasSuffix("AAAA") ? "BBBB" : "AAAA"
    await #expect(throws: (any Error).self) {
      try await issuer.verifyAccessToken(forged, now: inTime)
    }
    #expect(try await issuer.verifyAccessToken(token, now: inTime) == claims)

    // Past its expiry the remembered token is refused, and so is one never seen before.
    let late = issued.addingTimeInterval(3601)
    await #expect(throws: (any Error).self) { try await issuer.verifyAccessToken(token, now: late) }
    let (other, _) = try await issuer.accessToken(
      tenantID: "other-tenant",
      clientID: "client",
      now: issued
    )
    await #expect(throws: (any Error).self) { try await issuer.verifyAccessToken(other, now: late) }
    #expect(try await issuer.verifyAccessToken(other, now: inTime) != claims)
  }
}
