/// The identity fields every account system of the suite asks for at registration, checked
/// together: username, email, optional phone, and a password that must not repeat them.
public struct AccountIdentity: Sendable, Equatable {
  public let username: String
  public let email: String
  public let phone: String?

  /// Records every problem in `validation`; nil when any field failed.
  public static func check(
    username rawUsername: String,
    email rawEmail: String,
    phone rawPhone: String,
    password: String,
    into validation: inout Validation
  ) -> AccountIdentity? {
    let username = validation.check("username") { () throws(FieldProblem) in
      try Username(rawUsername)
    }
    let email = validation.check("email") { () throws(FieldProblem) in try EmailAddress(rawEmail) }
    let phone = validation.check("phone") { () throws(FieldProblem) in
      try PhoneNumber.optional(rawPhone)
    }
    let passwordOK =
      validation.check("password") { () throws(FieldProblem) in
        try PasswordPolicy.check(password, username: username?.value, email: email?.value)
      } != nil
    guard let username, let email, let phone, passwordOK else { return nil }
    return AccountIdentity(username: username.value, email: email.value, phone: phone?.value)
  }
}
