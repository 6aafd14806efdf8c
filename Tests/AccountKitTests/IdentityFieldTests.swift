import AccountKit
import Testing

@Suite("Identity fields")
struct IdentityFieldTests {
  @Test(
    "usernames are normalised to lower case and checked",
    arguments: [
      ("alice", "alice"), ("Alice.Smith", "alice.smith"), ("  bob_1-x ", "bob_1-x"),
      ("abc", "abc"), (String(repeating: "a", count: 32), String(repeating: "a", count: 32)),
    ]
  )
  func validUsernames(raw: String, normalised: String) throws {
    #expect(try Username(raw).value == normalised)
  }

  @Test(
    "bad usernames are refused",
    arguments: ["", "ab", String(repeating: "a", count: 33), "al ice", "alice!", "élodie", "a@b"]
  )
  func invalidUsernames(raw: String) {
    #expect(throws: FieldProblem.self) { try Username(raw) }
  }

  @Test(
    "emails are trimmed and lower-cased",
    arguments: [
      ("Alice@Example.COM", "alice@example.com"),
      (" bob+tag@mail.example.org ", "bob+tag@mail.example.org"),
    ]
  )
  func validEmails(raw: String, normalised: String) throws {
    #expect(try EmailAddress(raw).value == normalised)
  }

  @Test(
    "bad emails are refused",
    arguments: [
      "", "plain", "@example.com", "a@", "a@b", "a@@b.com", "a b@c.com", ".a@b.com", "a..b@c.com",
      "a@-b.com", "a@b.c", "a@b.123", String(repeating: "a", count: 65) + "@b.com",
    ]
  )
  func invalidEmails(raw: String) {
    #expect(throws: FieldProblem.self) { try EmailAddress(raw) }
  }

  @Test("a masked email shows its first letter and domain")
  func masked() throws {
    #expect(try EmailAddress("alice@example.com").masked == "a***@example.com")
  }

  @Test(
    "phone numbers become E.164",
    arguments: [("+1 415-555-0100", "+14155550100"), ("+86 (10) 1234.5678", "+861012345678")]
  )
  func validPhones(raw: String, normalised: String) throws {
    #expect(try PhoneNumber(raw).value == normalised)
  }

  @Test(
    "bad phone numbers are refused",
    arguments: ["4155550100", "+0123456789", "+12", "+1415abc0100", "+1234567890123456"]
  )
  func invalidPhones(raw: String) {
    #expect(throws: FieldProblem.self) { try PhoneNumber(raw) }
  }

  @Test("an empty optional phone is no phone")
  func emptyPhone() throws {
    #expect(try PhoneNumber.optional("  ") == nil)
  }
}

@Suite("Password policy")
struct PasswordPolicyTests {
  @Test("long, uncommon passwords pass, whatever their characters")
  func accepted() throws {
    try PasswordPolicy.check("correct horse battery")
    try PasswordPolicy.check("密码是很长的一句话")
    try PasswordPolicy.check(String(repeating: "x", count: 100) + "Q7")
  }

  @Test(
    "short, overlong, common and self-referencing passwords are refused",
    arguments: [
      "", "short", "password", "PASSWORD1", "12345678", String(repeating: "a", count: 129),
    ]
  )
  func refused(password: String) {
    #expect(throws: FieldProblem.self) { try PasswordPolicy.check(password) }
  }

  @Test("a password may not be the username or the email")
  func notTheUsername() {
    #expect(throws: FieldProblem.self) {
      try PasswordPolicy.check("alice.smith", username: "alice.smith")
    }
    #expect(throws: FieldProblem.self) {
      try PasswordPolicy.check("alice@example.com", email: "alice@example.com")
    }
  }
}
