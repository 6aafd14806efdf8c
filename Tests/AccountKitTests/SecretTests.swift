import AccountKit
import Testing

@Suite("Password hashes, codes and session tokens")
struct SecretTests {
  static let hasher = PasswordHasher(workers: 2, maxQueued: 8)

  @Test("a password verifies against its own argon2id hash only")
  func hashAndVerify() async throws {
    let hash = try await Self.hasher.hash("correct horse battery")
    #expect(hash.hasPrefix("$argon2id$v=19$m=19456,t=2,p=1$"))
    #expect(try await Self.hasher.verify("correct horse battery", against: hash))
    #expect(try await !Self.hasher.verify("correct horse batterY", against: hash))
    #expect(try await !Self.hasher.verify("correct horse battery", against: "$2b$10$notargon"))
    #expect(!Self.hasher.needsRehash(hash))
  }

  @Test("long passwords are never truncated")
  func noTruncation() async throws {
    let long = String(repeating: "p", count: 120)
    let hash = try await Self.hasher.hash(long + "A")
    #expect(try await !Self.hasher.verify(long + "B", against: hash))
  }

  @Test("hashes made with weaker parameters are due for a rehash")
  func rehash() async throws {
    let weak = PasswordHasher(
      parameters: .init(memoryKiB: 1024, iterations: 1, parallelism: 1),
      workers: 1
    )
    let hash = try await weak.hash("correct horse battery")
    #expect(Self.hasher.needsRehash(hash))
    #expect(try await Self.hasher.verify("correct horse battery", against: hash))
  }

  @Test("past its queue the hasher refuses work at once")
  func overload() async throws {
    let tiny = PasswordHasher(workers: 1, maxQueued: 0)
    let outcomes = await withTaskGroup(of: Bool.self) { group in
      for _ in 0..<6 {
        group.addTask { (try? await tiny.hash("correct horse battery")) != nil }
      }
      return await group.reduce(into: [Bool]()) { $0.append($1) }
    }
    #expect(outcomes.contains(true))
    #expect(outcomes.contains(false))
  }

  @Test("codes are six digits and verify only for their challenge")
  func codes() {
    let codes = (0..<200).map { _ in VerificationCode.generate() }
    #expect(codes.allSatisfy(VerificationCode.isWellFormed))
    #expect(Set(codes).count > 150)
    let digest = VerificationCode.digest(code: "123456", challengeID: "c1")
    #expect(VerificationCode.matches(code: "123456", challengeID: "c1", storedDigest: digest))
    #expect(!VerificationCode.matches(code: "123457", challengeID: "c1", storedDigest: digest))
    #expect(!VerificationCode.matches(code: "123456", challengeID: "c2", storedDigest: digest))
    #expect(!VerificationCode.isWellFormed("12345a"))
  }

  @Test("session tokens carry 256 random bits and only their digest is kept")
  func tokens() {
    let (token, digest) = SessionToken.generate()
    #expect(SessionToken.isWellFormed(token))
    #expect(digest == SessionToken.digest(of: token))
    #expect(digest.count == 32)
    #expect(SessionToken.generate().token != token)
    #expect(!SessionToken.isWellFormed(token + "x"))
    #expect(!SessionToken.isWellFormed(String(token.dropLast()) + "!"))
  }
}
