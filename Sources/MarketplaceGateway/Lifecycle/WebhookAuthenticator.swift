import AsyncHTTPClient
public import Foundation
import JWTKit
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Checks the bearer token of a webhook call as Microsoft's SaaS Accelerator does
/// (docs/azure-saas-contract.md §5): an RS256 signature by a key from the tenant's OpenID
/// configuration, `exp`/`nbf` with no clock skew, `aud` = our app, `tid` = our tenant,
/// `appid`/`azp` = the marketplace, and an issuer of either Entra form for our tenant.
public struct WebhookAuthenticator: Sendable {
  public struct Settings: Sendable {
    /// e.g. "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration".
    public var openIDConfigurationURL: String
    /// Our app (client) id: the token's audience.
    public var audience: String
    public var tenantID: String
    /// The marketplace's well-known app id.
    public var marketplaceAppID: String = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"
    /// Keys are fetched again after this long even when every kid is known.
    public var keyLifetime: Duration = .seconds(86400)
    /// An unknown kid fetches the keys again, at most this often (a flood of made-up kids
    /// must not become a flood of requests to the identity provider).
    public var unknownKeyCooldown: Duration = .seconds(30)

    public init(openIDConfigurationURL: String, audience: String, tenantID: String) {
      self.openIDConfigurationURL = openIDConfigurationURL
      self.audience = audience
      self.tenantID = tenantID
    }
  }

  /// Why a call is not let in. Missing and bad tokens are told apart in the logs.
  public enum Refusal: Error, Equatable, CustomStringConvertible {
    /// No bearer token at all.
    case missing
    /// A token that fails a check; the reason is for logs only, never for the caller.
    case invalid(String)
    /// The signing keys could not be fetched: the call may be retried (503).
    case keysUnavailable(String)

    public var description: String {
      switch self {
      case .missing: "no bearer token"
      case .invalid(let reason): "invalid token: \(reason)"
      case .keysUnavailable(let reason): "signing keys unavailable: \(reason)"
      }
    }
  }

  /// The claims a webhook token is checked for; checked here, one by one, with reasons.
  struct Claims: JWTPayload {
    var aud: AudienceClaim?
    var iss: String?
    var tid: String?
    var appid: String?
    var azp: String?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?

    enum CodingKeys: String, CodingKey {
      case aud, iss, tid, appid, azp, exp, nbf
      case longTenantID = "http://schemas.microsoft.com/identity/claims/tenantid"
    }

    init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      aud = try container.decodeIfPresent(AudienceClaim.self, forKey: .aud)
      iss = try container.decodeIfPresent(String.self, forKey: .iss)
      tid =
        try container.decodeIfPresent(String.self, forKey: .tid)
        ?? container.decodeIfPresent(String.self, forKey: .longTenantID)
      appid = try container.decodeIfPresent(String.self, forKey: .appid)
      azp = try container.decodeIfPresent(String.self, forKey: .azp)
      exp = try container.decodeIfPresent(ExpirationClaim.self, forKey: .exp)
      nbf = try container.decodeIfPresent(NotBeforeClaim.self, forKey: .nbf)
    }

    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encodeIfPresent(aud, forKey: .aud)
      try container.encodeIfPresent(iss, forKey: .iss)
      try container.encodeIfPresent(tid, forKey: .tid)
      try container.encodeIfPresent(appid, forKey: .appid)
      try container.encodeIfPresent(azp, forKey: .azp)
      try container.encodeIfPresent(exp, forKey: .exp)
      try container.encodeIfPresent(nbf, forKey: .nbf)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  private let settings: Settings
  private let keys: SigningKeys

  public init(settings: Settings, logger: Logger) {
    self.settings = settings
    self.keys = SigningKeys(settings: settings, logger: logger)
  }

  /// Lets the call in or says why not. `authorization` is the header as received.
  public func authenticate(authorization: String?, now: Date = Date()) async throws(Refusal) {
    guard let authorization, !authorization.isEmpty else { throw .missing }
    let parts = authorization.split(separator: " ", maxSplits: 1)
    guard parts.count == 2, parts[0].lowercased() == "bearer" else {
      throw .invalid("not a bearer token")
    }
    let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
    guard token.utf8.count <= 16 << 10 else { throw .invalid("token too long") }

    // The header first: only RS256 is allowed, whatever the token says (no `none`, no HS*
    // keyed with the public key), and the key is chosen by its kid, never by default.
    let segments = token.split(separator: ".", omittingEmptySubsequences: false)
    guard segments.count == 3, let headerData = Self.base64URLDecode(segments[0]),
      let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any]
    else { throw .invalid("malformed token") }
    guard let alg = header["alg"] as? String, alg == "RS256" else {
      throw .invalid("algorithm \(header["alg"].map { "\($0)" } ?? "missing") is not allowed")
    }
    guard let kid = header["kid"] as? String, !kid.isEmpty else { throw .invalid("no key id") }

    let verifier: JWTKeyCollection
    do {
      guard let found = try await keys.verifier(kid: kid) else {
        throw Refusal.invalid("unknown key id \(kid)")
      }
      verifier = found
    } catch let refusal as Refusal {
      throw refusal
    } catch {
      throw .keysUnavailable("\(error)")
    }
    let claims: Claims
    do {
      claims = try await verifier.verify(token, as: Claims.self)
    } catch {
      throw .invalid("signature or claims unreadable: \(error)")
    }
    try check(claims, now: now)
  }

  /// The claim checks, each with its own reason; the lifetime with no clock skew.
  private func check(_ claims: Claims, now: Date) throws(Refusal) {
    guard let exp = claims.exp else { throw .invalid("no expiry") }
    guard now < exp.value else { throw .invalid("expired") }
    if let nbf = claims.nbf, now < nbf.value { throw .invalid("not valid yet") }
    guard claims.aud?.value.contains(settings.audience) == true else {
      throw .invalid("wrong audience")
    }
    guard claims.tid == settings.tenantID else { throw .invalid("wrong tenant") }
    guard (claims.appid ?? claims.azp) == settings.marketplaceAppID else {
      throw .invalid("not issued to the marketplace's app")
    }
    // Entra issues v1 and v2 tokens; either form names our tenant.
    let issuers = [
      "https://sts.windows.net/\(settings.tenantID)/",
      "https://login.microsoftonline.com/\(settings.tenantID)/v2.0",
    ]
    guard let iss = claims.iss, issuers.contains(iss) else { throw .invalid("unexpected issuer") }
  }

  static func base64URLDecode(_ text: Substring) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(
      of: "_",
      with: "/"
    )
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64)
  }
}

/// The identity provider's signing keys by kid, fetched through its OpenID configuration,
/// kept for a day, fetched again (at most every cooldown) when a token names an unknown kid.
actor SigningKeys {
  private let settings: WebhookAuthenticator.Settings
  private let logger: Logger
  private var verifiers: [String: JWTKeyCollection] = [:]
  /// The last successful fetch, and the last attempt (successful or not).
  private var fetchedAt: ContinuousClock.Instant?
  private var attemptedAt: ContinuousClock.Instant?
  private var fetching: Task<[String: JWTKeyCollection], any Error>?

  init(settings: WebhookAuthenticator.Settings, logger: Logger) {
    self.settings = settings
    self.logger = logger
  }

  /// A verifier holding exactly the key `kid` (RS256), or nil when the provider has no such key.
  /// Keys are fetched when none were, when the last fetch is older than the key lifetime,
  /// or for an unknown kid; never more often than the cooldown, failed attempts included. A
  /// failed refresh keeps the keys already known (they still verify), so an unreachable
  /// identity provider does not shut the webhook.
  func verifier(kid: String) async throws -> JWTKeyCollection? {
    let clock = ContinuousClock()
    let stale = fetchedAt.map { clock.now - $0 > settings.keyLifetime } ?? true
    if !stale, let known = verifiers[kid] { return known }
    let coolingDown = attemptedAt.map { clock.now - $0 < settings.unknownKeyCooldown } ?? false
    guard !coolingDown || fetching != nil else {
      if verifiers.isEmpty {
        throw WebhookKeysError("the signing keys could not be fetched; trying again shortly")
      }
      return verifiers[kid]
    }
    do {
      if let fetching {
        verifiers = try await fetching.value
      } else {
        let task = Task { try await Self.fetch(settings) }
        fetching = task
        attemptedAt = clock.now
        defer { fetching = nil }
        verifiers = try await task.value
        fetchedAt = clock.now
        logger.info(
          "webhook signing keys fetched",
          metadata: ["kids": "\(verifiers.keys.sorted())"]
        )
      }
    } catch  where !verifiers.isEmpty {
      logger.warning(
        "webhook signing keys not refreshed; keeping the known ones",
        metadata: ["error": "\(error)"]
      )
    }
    return verifiers[kid]
  }

  private static func fetch(
    _ settings: WebhookAuthenticator.Settings
  ) async throws -> [String: JWTKeyCollection] {
    let configuration = try await json(settings.openIDConfigurationURL)
    guard let jwksURL = configuration["jwks_uri"] as? String else {
      throw WebhookKeysError("the OpenID configuration has no jwks_uri")
    }
    let jwks = try await json(jwksURL)
    var verifiers: [String: JWTKeyCollection] = [:]
    for key in jwks["keys"] as? [[String: Any]] ?? [] {
      // RSA signing keys only; the algorithm is ours to choose (RS256), not the key set's.
      guard key["kty"] as? String == "RSA", (key["use"] as? String ?? "sig") == "sig",
        let kid = key["kid"] as? String, let modulus = key["n"] as? String,
        let exponent = key["e"] as? String,
        let publicKey = try? Insecure.RSA.PublicKey(modulus: modulus, exponent: exponent)
      else { continue }
      verifiers[kid] = await JWTKeyCollection().add(
        rsa: publicKey,
        digestAlgorithm: .sha256,
        kid: JWKIdentifier(string: kid)
      )
    }
    return verifiers
  }

  private static func json(_ url: String) async throws -> [String: Any] {
    let response = try await HTTPClient.shared.execute(
      HTTPClientRequest(url: url),
      timeout: .seconds(10)
    )
    let body = try await response.body.collect(upTo: 1 << 20)
    guard response.status == .ok,
      let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
    else { throw WebhookKeysError("\(url) answered HTTP \(response.status.code)") }
    return object
  }
}

struct WebhookKeysError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
