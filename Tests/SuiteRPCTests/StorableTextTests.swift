import GuanceContracts
import SuiteErrors
import SuiteRPC
import SwiftProtobuf
import Testing

@Suite("Text PostgreSQL can store")
struct StorableTextTests {
  @Test("every field path whose text holds U+0000 is named, nested and repeated ones included")
  func fieldPaths() throws {
    let request = Guance_Gateway_V1_RegisterAndActivateRequest.with {
      $0.sessionID = "s-1"
      $0.basic.username = "al\u{0}ice"
      $0.basic.email = "alice@example.com"
      $0.workspace.name = "\u{0}"
    }
    let error = try #require(throws: ServiceError.self) { try StorableText.check(request) }
    guard case .invalidArgument(let violations) = error.kind else {
      Issue.record("expected INVALID_ARGUMENT, got \(error.kind)")
      return
    }
    #expect(violations.map(\.field) == ["basic.username", "workspace.name"])

    let answer = Guance_Billing_V1_SetSubscriptionStatusResponse.with {
      $0.workspaceIds = ["w-1", "w\u{0}2"]
    }
    let repeated = try #require(throws: ServiceError.self) { try StorableText.check(answer) }
    guard case .invalidArgument(let listed) = repeated.kind else { return }
    #expect(listed.map(\.field) == ["workspace_ids[1]"])
  }

  @Test("text without U+0000 passes, whatever else it holds")
  func storable() throws {
    let request = Guance_Gateway_V1_RegisterAndActivateRequest.with {
      $0.basic.username = "ålice ✓ \u{1}\t"
      $0.termsAccepted = true
    }
    try StorableText.check(request)
    try StorableText.check(Guance_Gateway_V1_RegisterAndActivateRequest())
  }
}
