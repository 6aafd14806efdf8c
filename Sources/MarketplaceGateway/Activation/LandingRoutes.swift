import Foundation
import HTTPTypes
public import Hummingbird
import MarketplaceClient
import NIOCore
public import SuiteKit

/// The landing page Microsoft opens after a purchase (`GET /landing?token=…`): resolves the
/// token, opens an activation session and sends the browser on to the activation pages, or
/// answers JSON when asked for JSON. A bad or expired token gets a page saying what to do.
public struct LandingRoutes: Sendable {
  private let activations: Activations
  private let activationPageURL: String
  private let started: StartupGate

  public init(activations: Activations, activationPageURL: String, started: StartupGate) {
    self.activations = activations
    self.activationPageURL = activationPageURL
    self.started = started
  }

  public func router() -> Router<BasicRequestContext> {
    let router = Router()
    router.get("landing") { request, _ -> Response in
      let wantsJSON = request.headers[.accept]?.contains("application/json") ?? false
      guard await started.wait() else {
        return Self.page(.serviceUnavailable, Self.unavailableText, json: wantsJSON)
      }
      guard let token = request.uri.queryParameters["token"].map(String.init), !token.isEmpty else {
        return Self.page(.badRequest, Self.invalidLinkText, json: wantsJSON)
      }
      do {
        let activation = try await activations.resolve(marketplaceToken: token)
        let separator = activationPageURL.contains("?") ? "&" : "?"
        let next = "\(activationPageURL)\(separator)session=\(activation.sessionID)"
        if wantsJSON {
          return Self.json([
            "session_id": activation.sessionID, "subscription_id": activation.subscription.id,
            "state": "\(activation.state)", "activation_url": next,
          ])
        }
        return Response(status: .seeOther, headers: [.location: next])
      } catch ActivationError.invalidMarketplaceToken {
        return Self.page(.badRequest, Self.invalidLinkText, json: wantsJSON)
      } catch {
        return Self.page(.serviceUnavailable, Self.unavailableText, json: wantsJSON)
      }
    }
    router.get("healthz") { _, _ in Response(status: .ok) }
    return router
  }

  static let invalidLinkText =
    "This activation link is invalid or has expired. Open your Guance subscription in the Microsoft marketplace and select \"Configure account\" again."
  static let unavailableText =
    "Activation is briefly unavailable. Please try again in a minute; nothing has been charged."

  static func page(_ status: HTTPResponse.Status, _ text: String, json: Bool) -> Response {
    if json { return Self.json(["error": text], status: status) }
    let html = """
      <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Guance activation</title></head>
      <body><h1>Guance Commercial Plan activation</h1><p>\(text.replacingOccurrences(of: "\"", with: "&quot;"))</p></body></html>
      """
    return Response(
      status: status,
      headers: [.contentType: "text/html; charset=utf-8"],
      body: .init(byteBuffer: ByteBuffer(string: html))
    )
  }

  static func json(_ object: [String: String], status: HTTPResponse.Status = .ok) -> Response {
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
      ?? Data("{}".utf8)
    return Response(
      status: status,
      headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data))
    )
  }
}
