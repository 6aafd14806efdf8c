/// What the console refuses beyond signing in and codes (those are `AccessError`); mapped to
/// the wire in one place (`ConsoleError+ServiceError.swift`).
public enum ConsoleError: Error, Equatable {
  case usernameTaken
  case emailTaken
  case workspaceNotFound(String)
  case workspaceClosed(String)
}
