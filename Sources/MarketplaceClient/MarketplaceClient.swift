public import AsyncHTTPClient
public import Foundation
public import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Tracing

/// The gateway's one way to talk to the marketplace (SaaS Fulfillment v2 and metering), or to
/// the emulator that stands in for it: client-credentials tokens cached until shortly before
/// they expire, `x-ms-requestid`/`x-ms-correlationid` on every call, a deadline per call, and
/// retries with backoff only where repeating is safe.
public struct MarketplaceClient: Sendable {
  public struct Settings: Sendable {
    /// e.g. "https://marketplaceapi.microsoft.com/api" or "http://127.0.0.1:7300/api".
    public var apiBaseURL: String
    /// e.g. "https://login.microsoftonline.com" or "http://127.0.0.1:7300".
    public var loginBaseURL: String
    public var tenantID: String
    public var clientID: String
    public var clientSecret: String
    public var timeout: Duration
    /// Attempts for calls that are safe to repeat (the first included).
    public var attempts: Int

    public init(
      apiBaseURL: String,
      loginBaseURL: String,
      tenantID: String,
      clientID: String,
      clientSecret: String,
      timeout: Duration = .seconds(10),
      attempts: Int = 4
    ) {
      self.apiBaseURL = apiBaseURL
      self.loginBaseURL = loginBaseURL
      self.tenantID = tenantID
      self.clientID = clientID
      self.clientSecret = clientSecret
      self.timeout = timeout
      self.attempts = attempts
    }
  }

  /// "YYYY-MM-DD" (UTC): how the marketplace writes usage dates (and the gateway its billing days).
  public static let dayStyle = Date.ISO8601FormatStyle().year().month().day()

  static let apiVersion = "2018-08-31"
  static let resource = "20e940b3-4c77-4b0b-9a53-9e16a1b010a7"

  private let settings: Settings
  private let http: HTTPClient
  private let tokens: AccessTokenCache
  private let logger: Logger

  public init(settings: Settings, http: HTTPClient = .shared, logger: Logger) {
    self.settings = settings
    self.http = http
    self.logger = logger
    self.tokens = AccessTokenCache()
  }

  // MARK: Subscriptions

  /// Exchanges a landing-page token (already URL-decoded) for its subscription.
  public func resolve(
    token: String,
    correlationID: String = UUID().uuidString
  ) async throws -> ResolvedSubscription {
    let data = try await call(
      .POST,
      "saas/subscriptions/resolve",
      headers: [("x-ms-marketplace-token", token)],
      retry: true,
      correlationID: correlationID
    )
    return try MarketplaceParsing.resolved(MarketplaceParsing.object(data))
  }

  /// Starts billing. Repeating it is safe: the marketplace refuses a second activation.
  public func activate(
    subscriptionID: String,
    planID: String,
    quantity: Int?,
    correlationID: String = UUID().uuidString
  )
    async throws
  {
    var body: [String: Any] = ["planId": planID]
    if let quantity { body["quantity"] = quantity }
    _ = try await call(
      .POST,
      "saas/subscriptions/\(subscriptionID)/activate",
      body: body,
      retry: true,
      correlationID: correlationID
    )
  }

  public func subscription(id: String) async throws -> MarketplaceSubscription {
    try MarketplaceParsing.subscription(
      MarketplaceParsing.object(try await call(.GET, "saas/subscriptions/\(id)", retry: true))
    )
  }

  /// Every subscription, following `@nextLink` page by page.
  public func allSubscriptions() async throws -> [MarketplaceSubscription] {
    var all: [MarketplaceSubscription] = []
    try await forEachSubscriptionPage { all += $0 }
    return all
  }

  /// The publisher's subscriptions a page at a time, as List subscriptions returns them:
  /// what is held at once is one page, however many there are.
  public func forEachSubscriptionPage(
    _ body: ([MarketplaceSubscription]) async throws -> Void
  ) async throws {
    var next: String? = "saas/subscriptions"
    while let path = next {
      let data = try await call(.GET, path, retry: true)
      guard !data.isEmpty else { break }
      let page = try MarketplaceParsing.object(data)
      try await body(
        try (page["subscriptions"] as? [MarketplaceParsing.Object] ?? []).map(
          MarketplaceParsing.subscription
        )
      )
      next = MarketplaceParsing.string(page, "@nextLink").flatMap { $0.isEmpty ? nil : $0 }
    }
  }

  /// Publisher-started change: returns the operation to poll (not repeated on failure: a
  /// second PATCH would start a second operation).
  public func changePlan(subscriptionID: String, to planID: String) async throws -> String {
    try await startOperation(.PATCH, subscriptionID: subscriptionID, body: ["planId": planID])
  }

  public func changeQuantity(subscriptionID: String, to quantity: Int) async throws -> String {
    try await startOperation(.PATCH, subscriptionID: subscriptionID, body: ["quantity": quantity])
  }

  public func cancel(subscriptionID: String) async throws -> String {
    try await startOperation(.DELETE, subscriptionID: subscriptionID, body: nil)
  }

  public func operation(
    subscriptionID: String,
    operationID: String
  ) async throws -> MarketplaceOperation {
    try MarketplaceParsing.operation(
      MarketplaceParsing.object(
        try await call(
          .GET,
          "saas/subscriptions/\(subscriptionID)/operations/\(operationID)",
          retry: true
        )
      )
    )
  }

  public func outstandingOperations(subscriptionID: String) async throws -> [MarketplaceOperation] {
    let data = try await call(.GET, "saas/subscriptions/\(subscriptionID)/operations", retry: true)
    guard !data.isEmpty else { return [] }
    let object = try MarketplaceParsing.object(data)
    return try (object["operations"] as? [MarketplaceParsing.Object] ?? []).map(
      MarketplaceParsing.operation
    )
  }

  /// Accepts or rejects a marketplace-started change. Idempotent, so retried.
  public func updateOperation(
    subscriptionID: String,
    operationID: String,
    success: Bool
  ) async throws {
    _ = try await call(
      .PATCH,
      "saas/subscriptions/\(subscriptionID)/operations/\(operationID)",
      body: ["status": success ? "Success" : "Failure"],
      retry: true
    )
  }

  // MARK: Metering

  /// Up to 25 events; each gets its own verdict. Retried as a whole on transport errors: the
  /// marketplace answers a repeat with Duplicate, which counts as delivered.
  public func recordUsage(
    _ events: [MarketplaceUsageEvent]
  ) async throws -> [MarketplaceUsageResult] {
    precondition((1...25).contains(events.count), "the marketplace takes 1 to 25 events per batch")
    let formatter = Date.ISO8601FormatStyle()
    let body: [String: Any] = [
      "request": events.map {
        [
          "resourceId": $0.resourceID, "dimension": $0.dimension, "quantity": $0.quantity,
          "effectiveStartTime": formatter.format($0.effectiveStartTime), "planId": $0.planID,
        ] as [String: Any]
      }
    ]
    let object = try MarketplaceParsing.object(
      try await call(.POST, "batchUsageEvent", body: body, retry: true)
    )
    let results = object["result"] as? [MarketplaceParsing.Object] ?? []
    guard results.count == events.count else {
      throw MarketplaceError.malformedResponse(
        "expected \(events.count) results, got \(results.count)"
      )
    }
    return results.map { result in
      let error = result["error"] as? MarketplaceParsing.Object
      return MarketplaceUsageResult(
        status: MarketplaceParsing.string(result, "status") ?? "Error",
        message: error.flatMap { MarketplaceParsing.string($0, "message") },
        usageEventID: MarketplaceParsing.string(result, "usageEventId")
      )
    }
  }

  /// What the marketplace has recorded of our usage from `start` on, per day, resource and
  /// dimension (GET usageEvents), for reconciliation.
  public func usageEvents(from start: Date) async throws -> [MarketplaceUsageSummary] {
    let day = start.formatted(Self.dayStyle)
    let data = try await call(.GET, "usageEvents?usageStartDate=\(day)", retry: true)
    guard !data.isEmpty else { return [] }
    guard let rows = try? JSONSerialization.jsonObject(with: data) as? [MarketplaceParsing.Object]
    else {
      throw MarketplaceError.malformedResponse("expected a JSON array of usage summaries")
    }
    return rows.compactMap(MarketplaceParsing.usageSummary)
  }

  // MARK: Plumbing

  private func startOperation(
    _ method: HTTPMethod,
    subscriptionID: String,
    body: [String: Any]?
  ) async throws -> String {
    let (_, headers) = try await exchange(
      method,
      "saas/subscriptions/\(subscriptionID)",
      headers: [],
      body: body,
      retry: false,
      correlationID: UUID().uuidString
    )
    guard let location = headers.first(name: "Operation-Location"),
      let operation = location.split(separator: "?").first?.split(separator: "/").last
    else { throw MarketplaceError.malformedResponse("202 without Operation-Location") }
    return String(operation)
  }

  private func call(
    _ method: HTTPMethod,
    _ path: String,
    headers: [(String, String)] = [],
    body: [String: Any]? = nil,
    retry: Bool,
    correlationID: String = UUID().uuidString
  ) async throws -> Data {
    try await exchange(
      method,
      path,
      headers: headers,
      body: body,
      retry: retry,
      correlationID: correlationID
    ).0
  }

  /// One call, with a fresh request id per attempt and one correlation id for all of them.
  private func exchange(
    _ method: HTTPMethod,
    _ path: String,
    headers: [(String, String)],
    body: [String: Any]?,
    retry: Bool,
    correlationID: String
  ) async throws -> (Data, HTTPHeaders) {
    let bodyData = try body.map { try JSONSerialization.data(withJSONObject: $0) }
    var attempt = 1
    while true {
      do {
        return try await once(
          method,
          path,
          headers: headers,
          body: bodyData,
          correlationID: correlationID
        )
      } catch let error as MarketplaceError
        where retry && error.isTransient && attempt < settings.attempts
      {
        logger.warning(
          "marketplace call failed; retrying",
          metadata: ["path": "\(path)", "attempt": "\(attempt)", "error": "\(error)"]
        )
        // Exponential backoff with jitter: 0.2 s, 0.4 s, 0.8 s ... at most 6.4 s.
        let base = 200 << min(attempt - 1, 5)
        try await Task.sleep(for: .milliseconds(Int.random(in: base / 2...base)))
        attempt += 1
      }
    }
  }

  private func once(
    _ method: HTTPMethod,
    _ path: String,
    headers: [(String, String)],
    body: Data?,
    correlationID: String
  ) async throws -> (Data, HTTPHeaders) {
    let url: String
    if path.hasPrefix("http") {
      url = path
    } else if path.hasPrefix("/") {
      // An absolute path from @nextLink or Operation-Location: same host as the API.
      let host = settings.apiBaseURL.split(separator: "/", maxSplits: 3).prefix(3).joined(
        separator: "/"
      )
      url = host + path
    } else {
      // A relative path may bring its own query ("usageEvents?usageStartDate=...").
      url =
        "\(settings.apiBaseURL)/\(path)\(path.contains("?") ? "&" : "?")api-version=\(Self.apiVersion)"
    }
    // A header value no HTTP client may send (a control character) is the caller's mistake,
    // not an outage: refused at once, never retried.
    if let bad = headers.first(where: {
      $0.1.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }) {
      throw MarketplaceError.badRequest(
        code: "InvalidHeaderValue",
        message: "\(bad.0) holds a control character"
      )
    }
    var request = HTTPClientRequest(url: url)
    request.method = method
    request.headers.add(name: "authorization", value: "Bearer \(try await accessToken())")
    request.headers.add(name: "x-ms-requestid", value: UUID().uuidString.lowercased())
    request.headers.add(name: "x-ms-correlationid", value: correlationID)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body {
      request.headers.add(name: "content-type", value: "application/json")
      request.body = .bytes(ByteBuffer(data: body))
    }
    let sent = request
    let timeout = TimeAmount.nanoseconds(Int64(settings.timeout.components.seconds) * 1_000_000_000)
    // A client span of the trace the call is made in (no-op without a tracer), its context
    // sent as W3C `traceparent`. Named by method only, so span names stay few; the path,
    // which holds the subscription's id, is an attribute.
    let (response, data) = try await withSpan(
      "marketplace \(method.rawValue)",
      ofKind: .client
    ) { span in
      span.attributes["url.path"] = String(path.prefix { $0 != "?" })
      var request = sent
      InstrumentationSystem.instrument.inject(
        span.context,
        into: &request.headers,
        using: HTTPHeadersInjector()
      )
      span.attributes["http.request.method"] = method.rawValue
      span.attributes["server.address"] = request.url.split(separator: "/").dropFirst().first.map(
        String.init
      )
      do {
        let response = try await http.execute(request, timeout: timeout)
        let data = Data(buffer: try await response.body.collect(upTo: 16 << 20))
        span.attributes["http.response.status_code"] = Int(response.status.code)
        if response.status.code >= 400 { span.setStatus(SpanStatus(code: .error)) }
        return (response, data)
      } catch {
        span.recordError(error)
        span.setStatus(SpanStatus(code: .error))
        throw MarketplaceError.transport(String(describing: error))
      }
    }
    let status = Int(response.status.code)
    if (200..<300).contains(status) { return (data, response.headers) }
    let (code, message) = MarketplaceParsing.errorMessage(data)
    switch status {
    case 400: throw MarketplaceError.badRequest(code: code, message: message)
    case 401: throw MarketplaceError.unauthorized(message)
    case 403: throw MarketplaceError.forbidden(message)
    case 404: throw MarketplaceError.notFound(message)
    case 409: throw MarketplaceError.conflict(message)
    default: throw MarketplaceError.unavailable(status: status, message: message)
    }
  }

  /// A cached client-credentials token, renewed five minutes before it expires.
  func accessToken() async throws -> String {
    try await tokens.token(renewingBefore: 300) {
      var request = HTTPClientRequest(
        url: "\(settings.loginBaseURL)/\(settings.tenantID)/oauth2/token"
      )
      request.method = .POST
      request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
      let form = [
        ("grant_type", "client_credentials"), ("client_id", settings.clientID),
        ("client_secret", settings.clientSecret), ("resource", Self.resource),
      ].map { "\($0)=\($1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $1)" }
        .joined(separator: "&")
      request.body = .bytes(ByteBuffer(string: form))
      let response: HTTPClientResponse
      let data: Data
      do {
        response = try await http.execute(request, timeout: .seconds(10))
        data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
      } catch {
        throw MarketplaceError.transport(String(describing: error))
      }
      guard response.status == .ok, let object = try? MarketplaceParsing.object(data),
        let token = MarketplaceParsing.string(object, "access_token")
      else {
        throw MarketplaceError.unauthorized(
          "the token endpoint answered HTTP \(response.status.code)"
        )
      }
      let lifetime = MarketplaceParsing.string(object, "expires_in").flatMap(Double.init) ?? 3600
      return (token, Date().addingTimeInterval(lifetime))
    }
  }

  /// How many tokens this client has fetched (tests check the cache).
  public var tokensFetched: Int { get async { await tokens.fetched } }
}

/// One token at a time: concurrent callers share a refresh instead of each fetching one.
actor AccessTokenCache {
  private var current: (token: String, expires: Date)?
  private var refreshing: Task<(String, Date), any Error>?
  private(set) var fetched = 0

  func token(
    renewingBefore margin: TimeInterval,
    fetch: @escaping @Sendable () async throws -> (String, Date)
  )
    async throws -> String
  {
    if let current, current.expires.timeIntervalSinceNow > margin { return current.token }
    if let refreshing { return try await refreshing.value.0 }
    // An unstructured task so that every waiting caller can await the one fetch.
    let task = Task { try await fetch() }
    refreshing = task
    defer { refreshing = nil }
    let fresh = try await task.value
    fetched += 1
    current = (fresh.0, fresh.1)
    return fresh.0
  }
}

/// HTTP headers as the carrier of W3C trace context, for the marketplace's calls.
struct HTTPHeadersInjector: Injector {
  func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
    carrier.replaceOrAdd(name: key, value: value)
  }
}
