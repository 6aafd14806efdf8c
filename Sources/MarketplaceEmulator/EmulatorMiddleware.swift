import Foundation
import HTTPTypes
import Hummingbird

/// Echoes `x-ms-requestid` and `x-ms-correlationid`, generating them when absent, as the
/// marketplace does.
struct RequestIDMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  static let requestID = HTTPField.Name("x-ms-requestid")!
  static let correlationID = HTTPField.Name("x-ms-correlationid")!

  func handle(
    _ request: Request,
    context: Context,
    next: (Request, Context) async throws -> Response
  )
    async throws -> Response
  {
    let requestID = request.headers[Self.requestID] ?? UUID().uuidString.lowercased()
    let correlationID = request.headers[Self.correlationID] ?? UUID().uuidString.lowercased()
    var response: Response
    do {
      response = try await next(request, context)
    } catch let error as any HTTPResponseError {
      response = try error.response(from: request, context: context)
    }
    response.headers[Self.requestID] = requestID
    response.headers[Self.correlationID] = correlationID
    return response
  }
}

/// Every marketplace API call names `api-version=2018-08-31`.
struct APIVersionMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  func handle(
    _ request: Request,
    context: Context,
    next: (Request, Context) async throws -> Response
  )
    async throws -> Response
  {
    guard let version = request.uri.queryParameters["api-version"] else {
      return try Self.error(
        "ApiVersionUnspecified",
        "An API version is required, but was not specified."
      )
    }
    guard version == "2018-08-31" else {
      return try Self.error(
        "UnsupportedApiVersion",
        "The HTTP resource does not support the API version '\(version)'."
      )
    }
    return try await next(request, context)
  }

  static func error(_ code: String, _ message: String) throws -> Response {
    try EmulatorRoutes.json(["Error": ["Code": code, "Message": message]], status: .badRequest)
  }
}

/// API calls need a bearer token from the token endpoint, issued to the configured publisher
/// app: 401 without a valid one, 403 for another app or tenant.
struct BearerMiddleware: RouterMiddleware {
  typealias Context = BasicRequestContext

  let issuer: TokenIssuer
  let tenantID: String
  let clientID: String

  func handle(
    _ request: Request,
    context: Context,
    next: (Request, Context) async throws -> Response
  )
    async throws -> Response
  {
    guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer "),
      let claims = try? await issuer.verifyAccessToken(String(header.dropFirst(7)))
    else {
      return EmulatorRoutes.refusal(
        .init(status: 401, code: "Unauthorized", message: "a valid bearer token is required")
      )
    }
    guard claims.tid == tenantID, claims.appid == clientID else {
      return EmulatorRoutes.refusal(
        .init(
          status: 403,
          code: "Forbidden",
          message:
            "The offer is published with a different Azure AD App ID than the one in the token"
        )
      )
    }
    return try await next(request, context)
  }
}
