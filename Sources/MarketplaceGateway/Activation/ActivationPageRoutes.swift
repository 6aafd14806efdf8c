import Foundation
import HTTPTypes
public import Hummingbird
import NIOCore

/// The reference activation web app (`Activation/WebApp`: HTML, CSS and JavaScript modules as
/// shipped, no build step): `/activate` (where the landing page sends the buyer), `/login` (the
/// console's sign-in after activation) and `/activate/<file>`. The page calls the gateway's
/// ActivationService and the console's WorkspaceConsoleService itself, with Connect, at the
/// public addresses given here; its Content-Security-Policy allows scripts and styles from this
/// origin only, calls to those two addresses only, and no framing.
public struct ActivationPageRoutes: Sendable {
  /// Where the page's scripts reach the gateway's and the console's public services
  /// ("http://127.0.0.1:7100"), as a browser sees them.
  public struct Addresses: Sendable {
    public var activationAPI: String
    public var consoleAPI: String

    public init(activationAPI: String, consoleAPI: String) {
      self.activationAPI = activationAPI
      self.consoleAPI = consoleAPI
    }
  }

  /// A file of the app as served: its bytes and content type.
  private struct Asset: Sendable {
    let body: ByteBuffer
    let contentType: String
  }

  private let page: ByteBuffer
  private let assets: [String: Asset]
  private let securityPolicy: String

  public struct MissingFile: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "the activation web app's \(name) is not in the bundle" }
  }

  public init(addresses: Addresses) throws {
    func file(_ name: String) throws -> String {
      guard
        let url = Bundle.module.url(forResource: "WebApp/\(name)", withExtension: nil)
          ?? Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "WebApp")
      else { throw MissingFile(name: name) }
      return try String(contentsOf: url, encoding: .utf8)
    }
    let html = try file("index.html")
      .replacingOccurrences(of: "{{ACTIVATION_API}}", with: Self.attribute(addresses.activationAPI))
      .replacingOccurrences(of: "{{CONSOLE_API}}", with: Self.attribute(addresses.consoleAPI))
    page = ByteBuffer(string: html)
    var assets: [String: Asset] = [:]
    for (name, type) in [
      ("app.js", "text/javascript; charset=utf-8"),
      ("connect.js", "text/javascript; charset=utf-8"),
      ("i18n.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8"),
    ] {
      assets[name] = Asset(body: ByteBuffer(string: try file(name)), contentType: type)
    }
    self.assets = assets
    let apis = Set([addresses.activationAPI, addresses.consoleAPI].map(Self.origin))
      .sorted().joined(separator: " ")
    securityPolicy =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
      + "connect-src \(apis); base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
  }

  public func add(to router: Router<BasicRequestContext>) {
    for path in ["activate", "login"] {
      router.get(RouterPath(path)) { _, _ in respond(page, "text/html; charset=utf-8") }
    }
    router.get("activate/:file") { _, context -> Response in
      guard let name = context.parameters.get("file"), let asset = assets[name] else {
        return Response(status: .notFound)
      }
      return respond(asset.body, asset.contentType)
    }
  }

  private func respond(_ body: ByteBuffer, _ contentType: String) -> Response {
    var headers: HTTPFields = [
      .contentType: contentType,
      .contentSecurityPolicy: securityPolicy,
      .xContentTypeOptions: "nosniff",
      .cacheControl: "no-store",
    ]
    // The page's address carries the activation session: it goes nowhere else.
    if let referrerPolicy = HTTPField.Name("Referrer-Policy") {
      headers[referrerPolicy] = "no-referrer"
    }
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
  }

  /// "http://127.0.0.1:7100/some/path" → "http://127.0.0.1:7100", what CSP's connect-src names.
  static func origin(_ url: String) -> String {
    guard let components = URLComponents(string: url), let scheme = components.scheme,
      let host = components.host
    else { return url }
    let port = components.port.map { ":\($0)" } ?? ""
    return "\(scheme)://\(host)\(port)"
  }

  /// Text safe inside a double-quoted HTML attribute.
  static func attribute(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
      .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }
}
