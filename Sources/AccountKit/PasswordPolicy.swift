import Foundation

/// OWASP ASVS 5 §6.2: 8–128 characters, no composition rules, never truncated, and not one
/// of the commonly used passwords shipped with this module.
public enum PasswordPolicy {
  public static let lengthRange = 8...128

  /// Checks `password`; `username` and `email` are the account's own, which a password
  /// must not simply repeat.
  public static func check(
    _ password: String,
    username: String? = nil,
    email: String? = nil
  )
    throws(FieldProblem)
  {
    guard !password.isEmpty else { throw FieldProblem("is required") }
    guard lengthRange.contains(password.count) else {
      throw FieldProblem(
        "must be \(lengthRange.lowerBound) to \(lengthRange.upperBound) characters long"
      )
    }
    let folded = password.lowercased()
    if commonPasswords.contains(folded) {
      throw FieldProblem("is one of the most commonly used passwords; choose another")
    }
    if let username, folded == username.lowercased() {
      throw FieldProblem("must not be the username")
    }
    if let email, folded == email.lowercased() {
      throw FieldProblem("must not be the email address")
    }
  }

  /// Loaded once, on first use.
  static let commonPasswords: Set<String> = {
    guard let url = Bundle.module.url(forResource: "common-passwords", withExtension: "txt"),
      let text = try? String(contentsOf: url, encoding: .utf8)
    else {
      // The list ships inside the module; without it the build itself is broken.
      preconditionFailure("common-passwords.txt is missing from the AccountKit bundle")
    }
    return Set(text.split(whereSeparator: \.isNewline).map { $0.lowercased() })
  }()
}
