public import SuiteErrors

/// The one place where console errors get their gRPC meaning.
extension ConsoleError: ServiceErrorConvertible {
  public var serviceError: ServiceError {
    switch self {
    case .usernameTaken:
      ServiceError(.alreadyExists(field: "username"), "this username is already taken")
    case .emailTaken:
      ServiceError(.alreadyExists(field: "email"), "an account with this email already exists")
    case .workspaceNotFound(let id):
      ServiceError(.notFound(resourceType: "workspace", name: id), "workspace \(id) not found")
    case .workspaceClosed(let id):
      ServiceError(
        .failedPrecondition(type: "WORKSPACE_STATUS", subject: "workspace/\(id)"),
        reason: "WORKSPACE_CLOSED",
        "the workspace is closed and cannot change status"
      )
    }
  }
}
