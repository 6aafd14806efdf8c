import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
import Metrics
import NIOCore
import NIOFoundationCompat
public import SuiteKit

/// The marketplace's webhook (`POST /webhook`): authenticates the call, stores the operation
/// (idempotent by operation id) and only then answers 200; a worker verifies and applies it.
/// A call that is not let in, or whose body cannot be read, changes nothing.
public struct WebhookRoutes: Sendable {
  private let authenticator: WebhookAuthenticator
  private let store: any LifecycleStore
  private let doorbell: Doorbell
  private let started: StartupGate
  private let logger: Logger

  public init(
    authenticator: WebhookAuthenticator,
    store: any LifecycleStore,
    doorbell: Doorbell,
    started: StartupGate,
    logger: Logger
  ) {
    self.authenticator = authenticator
    self.store = store
    self.doorbell = doorbell
    self.started = started
    self.logger = logger
  }

  public func add(to router: Router<BasicRequestContext>) {
    router.post("webhook") { request, _ -> Response in
      let (status, result) = await receive(request)
      Counter(label: "marketplace_webhook_calls_total", dimensions: [("result", result)])
        .increment()
      return Response(
        status: status,
        headers: [.contentType: "application/json"],
        body: .init(
          byteBuffer: ByteBuffer(string: status == .ok ? "{}" : #"{"error":"\#(result)"}"#)
        )
      )
    }
  }

  /// The answer and a one-word result for the metric.
  private func receive(_ request: Request) async -> (HTTPResponse.Status, String) {
    guard await started.wait() else { return (.serviceUnavailable, "starting") }
    do {
      try await authenticator.authenticate(authorization: request.headers[.authorization])
    } catch {
      switch error {
      case .missing:
        logger.warning("webhook call without a bearer token; refused")
        return (.unauthorized, "unauthorized")
      case .invalid(let reason):
        logger.warning(
          "webhook call with an invalid token; refused",
          metadata: ["reason": "\(reason)"]
        )
        return (.unauthorized, "unauthorized")
      case .keysUnavailable(let reason):
        // Not the caller's fault: the marketplace retries, by then the keys may be reachable.
        logger.error(
          "webhook signing keys unavailable; call refused for now",
          metadata: ["reason": "\(reason)"]
        )
        return (.serviceUnavailable, "keys_unavailable")
      }
    }
    let notification: WebhookNotification
    do {
      let body = try await request.body.collect(upTo: 64 << 10)
      notification = try WebhookNotification.parse(Data(buffer: body))
    } catch let problem as WebhookNotification.Problem {
      logger.warning("webhook body refused", metadata: ["problem": "\(problem)"])
      return (.badRequest, "bad_payload")
    } catch let error as HTTPError where error.status == .contentTooLarge {
      return (.contentTooLarge, "too_large")
    } catch {
      // The body did not arrive whole (the caller went away): nothing stored, it delivers again.
      logger.warning("webhook body unreadable", metadata: ["error": "\(error)"])
      return (.badRequest, "unreadable_body")
    }
    do {
      let isNew = try await store.recordOperation(
        notification.operation,
        payload: notification.payload,
        notBefore: nil
      )
      logger.notice(
        isNew ? "webhook operation stored" : "webhook operation delivered again",
        metadata: [
          "operation": "\(notification.operation.id)", "action": "\(notification.operation.action)",
          "subscription": "\(notification.operation.subscriptionID)",
        ]
      )
      if isNew { await doorbell.ring() }
      return (.ok, isNew ? "stored" : "duplicate")
    } catch {
      // Not stored, so not acknowledged: the marketplace delivers it again.
      logger.error(
        "webhook operation could not be stored",
        metadata: ["error": "\(String(reflecting: error))"]
      )
      return (.serviceUnavailable, "store_unavailable")
    }
  }
}
