public import Foundation
public import GRPCCore
public import SwiftProtobuf
public import Testing

/// Fuzzing a service's unary methods through its real decoding and validation: bodies that are
/// random protobuf encodings (fields 1–8 of every wire type, nested messages, text drawn from
/// a dictionary of awkward and plausible values) or mutations of valid requests (the seeds and
/// the committed corpus), sent as raw bytes with each of the given metadata. Bad input is the
/// caller's fault and must be refused as such: an answer of INTERNAL, UNKNOWN or DATA_LOSS, or
/// none within the patience, is a finding.
///
/// Deterministic for a given `seed`, so `make test` runs the same bodies every time (a finding
/// there is a bug, never noise); `make fuzz` runs many more with a new seed and keeps what it
/// finds in the corpus, which every later run replays.
public struct RequestFuzzer: Sendable {
  /// A body that got an answer only a server fault gives.
  public struct Finding: Sendable, CustomStringConvertible {
    public let method: String
    public let body: [UInt8]
    public let code: String
    public let message: String

    public var description: String {
      "\(method) answered \(code) (\(message)) to the body \(RequestCorpus.hex(body))"
    }
  }

  /// Text worth trying in any string field, on top of `values` from the test (ids, tokens,
  /// codes of the fixture, so that some requests get past "not found").
  static let awkwardText: [String] = [
    "", " ", "\u{0}", "a\u{0}b", "alice", "Alice@Example.com", "alice@example.com",
    "correct horse battery",
    "us1", "cn1", "en", "zh", "+14155550100", "0", "-1", "9223372036854775808", "1e309", "NaN",
    "00000000-0000-0000-0000-000000000000", "' OR '1'='1", "%s%n%x", "../../etc/passwd", "\u{FEFF}",
    "\u{202E}evil", "e\u{301}", "👩‍💻", "\t\r\n", String(repeating: "x", count: 300),
    String(repeating: "é", count: 5000),
  ]

  public let methods: [MethodDescriptor]
  /// Valid request bodies by method (`package.Service/Method`), to mutate.
  public let seeds: [String: [[UInt8]]]
  public let values: [String]
  public let metadata: [Metadata]

  public init(
    methods: [MethodDescriptor],
    seeds: [String: [[UInt8]]] = [:],
    values: [String] = [],
    metadata: [Metadata] = [[:]]
  ) {
    self.methods = methods
    self.seeds = seeds
    self.values = values
    self.metadata = metadata.isEmpty ? [[:]] : metadata
  }

  /// Seeds by method from valid requests.
  public static func bodies(
    _ requests: [(MethodDescriptor, any SwiftProtobuf.Message)]
  ) throws -> [String: [[UInt8]]] {
    var bodies: [String: [[UInt8]]] = [:]
    for (method, request) in requests {
      bodies[method.fullyQualifiedMethod, default: []].append(try request.serializedBytes())
    }
    return bodies
  }

  /// How many bodies per method (`SUITE_FUZZ_ITERATIONS`, 25 by default) and from which seed
  /// (`SUITE_FUZZ_SEED`, fixed by default).
  public static var iterations: Int {
    ProcessInfo.processInfo.environment["SUITE_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 25
  }
  static let tracing = ProcessInfo.processInfo.environment["SUITE_FUZZ_TRACE"] == "1"
  public static var seed: UInt64 {
    ProcessInfo.processInfo.environment["SUITE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 20_261_203
  }

  /// Runs the fuzzer against `client` and records each finding as a test issue; with
  /// `SUITE_FUZZ_KEEP=1` (`make fuzz`) the findings are also kept in the repository's corpus.
  public func expectNoServerFaults<Transport: ClientTransport>(
    _ client: GRPCClient<Transport>,
    sourceLocation: SourceLocation = #_sourceLocation
  ) async throws {
    let findings = await run(client, corpus: .repository)
    if ProcessInfo.processInfo.environment["SUITE_FUZZ_KEEP"] == "1" {
      try RequestCorpus.repository.keep(findings)
    }
    for finding in findings { Issue.record("\(finding)", sourceLocation: sourceLocation) }
  }

  /// Sends the corpus's bodies, then `iterations` generated ones per method, one at a time.
  public func run<Transport: ClientTransport>(
    _ client: GRPCClient<Transport>,
    corpus: RequestCorpus,
    iterations: Int = Self.iterations,
    seed: UInt64 = Self.seed
  ) async -> [Finding] {
    var random = SplitMix64(seed: seed)
    var findings: [Finding] = []
    for method in methods {
      let name = method.fullyQualifiedMethod
      let kept = corpus.bodies(for: name)
      let valid = (seeds[name] ?? []) + kept
      var bodies = kept
      for _ in 0..<iterations {
        if !valid.isEmpty, random.next(below: 3) > 0 {
          bodies.append(mutate(valid[random.next(below: valid.count)], among: valid, &random))
        } else {
          bodies.append(message(depth: 0, &random))
        }
      }
      for body in bodies {
        let callMetadata = metadata[random.next(below: metadata.count)]
        if let finding = await send(body, to: method, metadata: callMetadata, client) {
          findings.append(finding)
        }
      }
    }
    return findings
  }

  private func send<Transport: ClientTransport>(
    _ body: [UInt8],
    to method: MethodDescriptor,
    metadata: Metadata,
    _ client: GRPCClient<Transport>
  ) async -> Finding? {
    var options = CallOptions.defaults
    options.timeout = .testPatience
    // SUITE_FUZZ_TRACE=1: each body before it is sent, to find one that gets no answer.
    if Self.tracing { print("fuzz: \(method.fullyQualifiedMethod) \(RequestCorpus.hex(body))") }
    do {
      try await client.unary(
        request: ClientRequest(message: body, metadata: metadata),
        descriptor: method,
        serializer: RawBody(),
        deserializer: RawBody(),
        options: options
      ) { response in _ = try response.message }
      return nil
    } catch let error as RPCError {
      switch error.code {
      case .internalError, .unknown, .dataLoss, .deadlineExceeded:
        return Finding(
          method: method.fullyQualifiedMethod,
          body: body,
          code: "\(error.code)",
          message: error.message
        )
      default:
        return nil
      }
    } catch {
      return Finding(
        method: method.fullyQualifiedMethod,
        body: body,
        code: "thrown",
        message: "\(error)"
      )
    }
  }

  // MARK: Bodies

  /// A random protobuf encoding: up to six fields numbered 1–8, of any wire type.
  func message(depth: Int, _ random: inout SplitMix64) -> [UInt8] {
    var out: [UInt8] = []
    for _ in 0..<random.next(below: 7) {
      let field = UInt64(1 + random.next(below: 8))
      switch random.next(below: 12) {
      case 0..<6:
        Self.append(key: field, wireType: 2, to: &out)
        Self.appendLengthDelimited(text(&random), to: &out)
      case 6..<8:
        Self.append(key: field, wireType: 0, to: &out)
        Self.appendVarint(
          [0, 1, 2, 3, 127, 128, UInt64.max, UInt64(Int32.max) + 1][random.next(below: 8)],
          to: &out
        )
      case 8..<10 where depth < 2:
        Self.append(key: field, wireType: 2, to: &out)
        Self.appendLengthDelimited(message(depth: depth + 1, &random), to: &out)
      case 10:
        Self.append(key: field, wireType: 1, to: &out)
        out += (0..<8).map { _ in UInt8(random.next(below: 256)) }
      default:
        // Invalid UTF-8, or bytes of no meaning.
        Self.append(key: field, wireType: 2, to: &out)
        Self.appendLengthDelimited(
          (0..<random.next(below: 12)).map { _ in UInt8(random.next(below: 256)) },
          to: &out
        )
      }
    }
    return out
  }

  private func text(_ random: inout SplitMix64) -> [UInt8] {
    let pool = Self.awkwardText + values
    return Array(pool[random.next(below: pool.count)].utf8)
  }

  /// One change to a valid body: a byte flipped, bytes inserted, removed or repeated, a cut,
  /// a field added, or a splice with another body.
  func mutate(_ body: [UInt8], among valid: [[UInt8]], _ random: inout SplitMix64) -> [UInt8] {
    var body = body
    let at = random.next(below: body.count + 1)
    switch random.next(below: 7) {
    case 0 where !body.isEmpty:
      body[min(at, body.count - 1)] ^= UInt8(1 << random.next(below: 8))
    case 1:
      body.insert(
        contentsOf: (0..<1 + random.next(below: 4)).map { _ in UInt8(random.next(below: 256)) },
        at: at
      )
    case 2 where !body.isEmpty:
      body.removeSubrange(at..<min(body.count, at + 1 + random.next(below: 8)))
    case 3:
      body += body[at...]
    case 4:
      body = Array(body[..<at])
    case 5:
      // Fields appended to a message replace or add to those before them.
      body += message(depth: 1, &random)
    default:
      let other = valid[random.next(below: valid.count)]
      body = Array(body[..<at]) + other[random.next(below: other.count + 1)...]
    }
    return body
  }

  static func append(key field: UInt64, wireType: UInt64, to out: inout [UInt8]) {
    appendVarint(field << 3 | wireType, to: &out)
  }

  static func appendLengthDelimited(_ bytes: [UInt8], to out: inout [UInt8]) {
    appendVarint(UInt64(bytes.count), to: &out)
    out += bytes
  }

  static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
    var value = value
    while value >= 0x80 {
      out.append(UInt8(value & 0x7F) | 0x80)
      value >>= 7
    }
    out.append(UInt8(value))
  }
}

/// Bodies that once got a server fault, kept to be sent again by every run: one folder per
/// method (`package.Service/Method`) under `Tests/Fuzz/corpus/`, one hex-encoded body per file.
public struct RequestCorpus: Sendable {
  public let folder: URL

  /// The repository's corpus (found from this file's place in the checkout).
  public static let repository = RequestCorpus(
    folder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("Tests/Fuzz/corpus")
  )

  public init(folder: URL) { self.folder = folder }

  public func bodies(for method: String) -> [[UInt8]] {
    let directory = folder.appendingPathComponent(method)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.sorted().compactMap { name in
      (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)).flatMap(
        Self.bytes(hex:)
      )
    }
  }

  /// Keeps `findings` (under a name from their content, so one body is kept once).
  public func keep(_ findings: [RequestFuzzer.Finding]) throws {
    for finding in findings {
      let directory = folder.appendingPathComponent(finding.method)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      let hex = Self.hex(finding.body)
      var name = UInt64(14_695_981_039_346_656_037)
      for byte in finding.body { name = (name ^ UInt64(byte)) &* 1_099_511_628_211 }
      try (hex + "\n").write(
        to: directory.appendingPathComponent(String(name, radix: 16) + ".hex"),
        atomically: true,
        encoding: .utf8
      )
    }
  }

  public static func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
  }

  static func bytes(hex: String) -> [UInt8]? {
    let digits = Array(hex.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    guard digits.count.isMultiple(of: 2) else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    for index in stride(from: 0, to: digits.count, by: 2) {
      guard let byte = UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16)
      else { return nil }
      bytes.append(byte)
    }
    return bytes
  }
}

/// A request or answer as the bytes on the wire, neither encoded nor decoded.
struct RawBody: MessageSerializer, MessageDeserializer {
  func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
    serializedMessageBytes.withUnsafeBytes { Array($0) }
  }
}

/// A small seeded generator (SplitMix64), so fuzzing runs the same bodies for the same seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// 0..<bound (0 when bound is 0).
  mutating func next(below bound: Int) -> Int {
    bound > 0 ? Int(next() % UInt64(bound)) : 0
  }
}
