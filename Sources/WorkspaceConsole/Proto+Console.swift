import Foundation
import GuanceContracts
import SuiteKit
import SwiftProtobuf

/// Domain values as messages, and message enums as domain values.
extension Guance_Console_V1_Account {
  init(_ account: Account) {
    self.init()
    id = account.id.canonicalText
    username = account.username
    email = account.email
    phone = account.phone ?? ""
    createdAt = Google_Protobuf_Timestamp(date: account.createdAt)
  }
}

extension Guance_Console_V1_Workspace {
  init(_ workspace: Workspace) {
    self.init()
    id = workspace.id.canonicalText
    name = workspace.name
    language = workspace.language
    site = workspace.site
    status = .init(workspace.status)
    ownerAccountID = workspace.ownerAccountID.canonicalText
    createdAt = Google_Protobuf_Timestamp(date: workspace.createdAt)
  }
}

extension Guance_Console_V1_WorkspaceStatus {
  init(_ status: WorkspaceStatus) {
    switch status {
    case .active: self = .active
    case .suspended: self = .suspended
    case .closed: self = .closed
    }
  }

  /// Nil for UNSPECIFIED and unknown values.
  var domain: WorkspaceStatus? {
    switch self {
    case .active: .active
    case .suspended: .suspended
    case .closed: .closed
    case .unspecified, .UNRECOGNIZED: nil
    }
  }
}

extension Guance_Console_V1_EmailCodePurpose {
  var domain: EmailCodePurpose? {
    switch self {
    case .createWorkspace: .createWorkspace
    case .unspecified, .UNRECOGNIZED: nil
    }
  }
}
