import AccountAccess
import Foundation
import GRPCCore
import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// `guance.console.v1.WorkspaceConsoleService`: validates and translates, nothing more.
package struct WorkspaceConsoleHandlers: Guance_Console_V1_WorkspaceConsoleService
    .SimpleServiceProtocol
{
  let console: GuanceConsole

  package init(console: GuanceConsole) {
    self.console = console
  }

  var request: RequestContext { RequestContext.current }

  func session() async throws -> Session {
    try await console.authenticate(bearerToken: request.bearerToken)
  }

}
