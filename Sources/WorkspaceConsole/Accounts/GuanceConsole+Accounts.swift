public import AccountAccess
import AccountKit
import Foundation
import Mailer
import SuiteErrors

/// Accounts: registration, emailed codes, sessions.
extension GuanceConsole {

  /// What a new account's fields must satisfy, checked together so every problem is reported.
  public struct Registration: Sendable {
    public var username: String
    public var password: String
    public var email: String
    public var phone: String

    public init(username: String, password: String, email: String, phone: String) {
      self.username = username
      self.password = password
      self.email = email
      self.phone = phone
    }
  }

  public func registerAccount(_ registration: Registration) async throws -> Account {
    var validation = Validation()
    let account = try await newAccount(registration, validation: &validation)
    return try await store.insertAccount(account)
  }

  public func account(of session: Session) async throws -> Account {
    guard let account = try await store.account(id: session.accountID) else {
      throw AccessError.notSignedIn
    }
    return account
  }

  public func sendEmailCode(
    email rawEmail: String,
    purpose: EmailCodePurpose?
  ) async throws
    -> EmailChallenges.Issued
  {
    var validation = Validation()
    let email = validation.check("email") { () throws(FieldProblem) in try EmailAddress(rawEmail) }
    validation.require(purpose != nil, "purpose", "must be specified")
    try validation.finish()
    guard let email, let purpose else { throw ServiceError.invalid(validation.violations) }

    // Unknown addresses get the same reply and the same work, but no mail.
    let account = try await store.account(email: email.value)
    return try await challenges.issue(
      subject: email.value,
      purpose: purpose.rawValue,
      accountID: account?.id
    ) { code in
      account.map { account in
        OutgoingMail(
          recipient: account.email,
          subject: "Your Guance verification code",
          body: """
            Hello \(account.username),

            Your Guance verification code is \(code).
            It expires in 10 minutes. If you did not ask for it, ignore this message.

            """
        )
      }
    }
  }

  /// Opens a session for a username or email and its password.
  public func login(
    login: String,
    password: String,
    peer: String
  ) async throws -> (
    token: String, session: Session, account: Account, workspaces: [Workspace]
  ) {
    let store = self.store
    let (token, session) = try await sessions.login(
      login: login,
      password: password,
      peer: peer,
      find: { try await store.loginCandidate(forLogin: $0) },
      rehash: { try await store.replacePasswordHash(accountID: $0, with: $1) }
    )
    let account = try await self.account(of: session)
    return (token, session, account, try await store.workspaces(memberAccountID: account.id))
  }

  /// The session a bearer token stands for; `notSignedIn` otherwise.
  public func authenticate(bearerToken: String?) async throws -> Session {
    try await sessions.authenticate(bearerToken: bearerToken)
  }

  public func logout(bearerToken: String?) async throws {
    try await sessions.logout(bearerToken: bearerToken)
  }
}
