import Foundation
public import GRPCCore
import NIOCore
import NIOHPACK

/// How a request's message is encoded: protobuf's binary form, or its JSON mapping (Connect's
/// `application/json`, gRPC-Web's `+json`). Routes decode and encode by it.
public enum MessageFormat: Sendable, Equatable {
  case protobuf
  case json
}

/// Which protocol a stream speaks, from its `content-type`. Browsers cannot speak gRPC itself
/// (no trailers, no HTTP/2 framing control): they speak gRPC-Web (the gRPC frames, trailers as a
/// last frame in the body, optionally base64 text) or Connect (one message as the whole body,
/// errors as JSON with an HTTP status).
enum WireProtocol: Equatable {
  case grpc
  case grpcWeb(text: Bool)
  case connect

  /// The protocol and message format of `contentType`; nil when it names none of them.
  init?(contentType: String?, format: inout MessageFormat) {
    guard let contentType else { return nil }
    format = .protobuf
    // gRPC's own, as nearly every call names it: no parsing on the RPC path.
    if contentType == "application/grpc" || contentType == "application/grpc+proto" {
      self = .grpc
      return
    }
    // "application/json; charset=utf-8": parameters do not change the protocol.
    let type =
      contentType.split(separator: ";", maxSplits: 1).first.map {
        $0.trimmingCharacters(in: .whitespaces).lowercased()
      } ?? ""
    format = .protobuf
    switch type {
    case "application/json":
      self = .connect
      format = .json
    case "application/proto":
      self = .connect
    case "application/grpc-web", "application/grpc-web+proto":
      self = .grpcWeb(text: false)
    case "application/grpc-web-text", "application/grpc-web-text+proto":
      self = .grpcWeb(text: true)
    case "application/grpc-web+json":
      self = .grpcWeb(text: false)
      format = .json
    case "application/grpc-web-text+json":
      self = .grpcWeb(text: true)
      format = .json
    case _ where type.hasPrefix("application/grpc"):
      // application/grpc, application/grpc+proto: the suite's routes speak protobuf.
      self = .grpc
    default:
      return nil
    }
  }

  var isBrowser: Bool { self != .grpc }
}

/// The browser protocols' answers: response headers and one body, built from the same response
/// parts a gRPC answer is written from.
enum BrowserResponse {
  /// Response headers browsers' scripts may read across origins (CORS hides the rest).
  static let exposedHeaders =
    "grpc-status, grpc-message, grpc-status-details-bin, x-request-id, connect-protocol-version"

  /// The headers and body answering a stream of `wire` that ended with `status`.
  static func encode(
    wire: WireProtocol,
    format: MessageFormat,
    status: Status,
    metadata: Metadata,
    trailers: Metadata,
    message: ByteBuffer?,
    origin: String?,
    allocator: ByteBufferAllocator
  ) -> (headers: HPACKHeaders, body: ByteBuffer) {
    var headers: HPACKHeaders = [":status": "200"]
    switch wire {
    case .grpc, .grpcWeb:
      let text: Bool
      if case .grpcWeb(text: true) = wire { text = true } else { text = false }
      let subtype = format == .json ? "+json" : "+proto"
      headers.add(
        name: "content-type",
        value: (text ? "application/grpc-web-text" : "application/grpc-web") + subtype
      )
      SuiteConnectionHandler.add(metadata, to: &headers)
      var body = allocator.buffer(capacity: 5 + (message?.readableBytes ?? 0) + 64)
      if var message {
        body.writeInteger(UInt8(0))
        body.writeInteger(UInt32(message.readableBytes))
        body.writeBuffer(&message)
      }
      // The trailers as the body's last frame (flag 0x80), HTTP/1 header lines.
      var lines = "grpc-status:\(status.code.rawValue)\r\n"
      if !status.message.isEmpty {
        lines += "grpc-message:\(PercentEncoding.encode(status.message))\r\n"
      }
      for (key, value) in trailers { lines += "\(key):\(value.headerText)\r\n" }
      body.writeInteger(UInt8(0x80))
      body.writeInteger(UInt32(lines.utf8.count))
      body.writeString(lines)
      if text {
        let encoded = Data(body.readableBytesView).base64EncodedString()
        body = allocator.buffer(string: encoded)
      }
      addCORS(origin, to: &headers)
      return (headers, body)
    case .connect:
      if status.code == .ok {
        headers.add(
          name: "content-type",
          value: format == .json ? "application/json" : "application/proto"
        )
        SuiteConnectionHandler.add(metadata, to: &headers)
        // A unary Connect answer has no trailers: they travel as "trailer-" headers.
        for (key, value) in trailers {
          headers.add(name: "trailer-" + key, value: value.headerText)
        }
        addCORS(origin, to: &headers)
        return (headers, message ?? allocator.buffer(capacity: 0))
      }
      headers = [":status": String(httpStatus(of: status.code))]
      headers.add(name: "content-type", value: "application/json")
      var details: [[String: String]] = []
      for source in [metadata, trailers] {
        for case .binary(let bytes) in source["grpc-status-details-bin"] {
          details += StatusDetails.decode(bytes).map { ["type": $0.type, "value": $0.value] }
        }
      }
      SuiteConnectionHandler.add(metadata.removingAll("grpc-status-details-bin"), to: &headers)
      SuiteConnectionHandler.add(trailers.removingAll("grpc-status-details-bin"), to: &headers)
      addCORS(origin, to: &headers)
      var error: [String: Any] = ["code": connectCode(of: status.code)]
      if !status.message.isEmpty { error["message"] = status.message }
      if !details.isEmpty { error["details"] = details }
      let json =
        (try? JSONSerialization.data(withJSONObject: error, options: [.sortedKeys])) ?? Data()
      return (headers, allocator.buffer(bytes: json))
    }
  }

  /// Connect's name for a status code ("invalid_argument").
  static func connectCode(of code: Status.Code) -> String {
    switch code {
    case .ok: "ok"
    case .cancelled: "canceled"
    case .unknown: "unknown"
    case .invalidArgument: "invalid_argument"
    case .deadlineExceeded: "deadline_exceeded"
    case .notFound: "not_found"
    case .alreadyExists: "already_exists"
    case .permissionDenied: "permission_denied"
    case .resourceExhausted: "resource_exhausted"
    case .failedPrecondition: "failed_precondition"
    case .aborted: "aborted"
    case .outOfRange: "out_of_range"
    case .unimplemented: "unimplemented"
    case .internalError: "internal"
    case .unavailable: "unavailable"
    case .dataLoss: "data_loss"
    case .unauthenticated: "unauthenticated"
    default: "unknown"
    }
  }

  /// The HTTP status Connect gives each code.
  static func httpStatus(of code: Status.Code) -> Int {
    switch code {
    case .ok: 200
    case .cancelled: 499
    case .invalidArgument, .failedPrecondition, .outOfRange: 400
    case .deadlineExceeded: 504
    case .notFound: 404
    case .alreadyExists, .aborted: 409
    case .permissionDenied: 403
    case .resourceExhausted: 429
    case .unimplemented: 501
    case .unavailable: 503
    case .unauthenticated: 401
    default: 500
    }
  }

  static func addCORS(_ origin: String?, to headers: inout HPACKHeaders) {
    guard let origin else { return }
    headers.add(name: "access-control-allow-origin", value: origin)
    headers.add(name: "access-control-expose-headers", value: exposedHeaders)
    headers.add(name: "vary", value: "Origin")
  }
}

/// The details of a `google.rpc.Status` (`grpc-status-details-bin`) as Connect's error JSON
/// carries them: each `Any`'s type name and its value in unpadded base64. Read by hand: the
/// transport knows no contracts, and a Status is three fields.
enum StatusDetails {
  static func decode(_ bytes: [UInt8]) -> [(type: String, value: String)] {
    var details: [(type: String, value: String)] = []
    var reader = ProtobufReader(bytes[...])
    while let (field, payload) = reader.next() {
      guard field == 3, case .bytes(let any) = payload else { continue }
      var typeURL = ""
      var value: ArraySlice<UInt8> = []
      var anyReader = ProtobufReader(any)
      while let (anyField, anyPayload) = anyReader.next() {
        guard case .bytes(let content) = anyPayload else { continue }
        if anyField == 1 { typeURL = String(decoding: content, as: UTF8.self) }
        if anyField == 2 { value = content }
      }
      // "type.googleapis.com/google.rpc.BadRequest" → "google.rpc.BadRequest".
      let type = typeURL.split(separator: "/").last.map(String.init) ?? typeURL
      var encoded = Data(value).base64EncodedString()
      while encoded.hasSuffix("=") { encoded.removeLast() }
      details.append((type, encoded))
    }
    return details
  }

  /// Protobuf's wire format, enough to walk a message's fields.
  struct ProtobufReader {
    enum Payload {
      case varint(UInt64)
      case bytes(ArraySlice<UInt8>)
      case fixed
    }

    private var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    /// The next field's number and payload; nil at the end or at bytes that are not protobuf.
    mutating func next() -> (Int, Payload)? {
      guard let key = varint() else { return nil }
      let field = Int(key >> 3)
      switch key & 7 {
      case 0: return varint().map { (field, .varint($0)) }
      case 1: return skip(8) ? (field, .fixed) : nil
      case 5: return skip(4) ? (field, .fixed) : nil
      case 2:
        guard let length = varint(), length <= UInt64(bytes.count) else { return nil }
        let content = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return (field, .bytes(content))
      default: return nil
      }
    }

    private mutating func skip(_ count: Int) -> Bool {
      guard bytes.count >= count else { return false }
      bytes = bytes.dropFirst(count)
      return true
    }

    private mutating func varint() -> UInt64? {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while let byte = bytes.first, shift < 64 {
        bytes = bytes.dropFirst()
        value |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
      }
      return nil
    }
  }
}

/// Which web origins may call the browser protocols (CORS), from configuration. Only an origin
/// on the list is ever echoed back, never `*`, so a page elsewhere cannot read an answer.
public struct BrowserOrigins: Sendable, Equatable {
  public var origins: Set<String>

  public init(_ origins: some Sequence<String>) {
    self.origins = Set(origins.map { Self.normalized($0) })
  }

  public static let none = BrowserOrigins([String]())

  /// Whether a page of `origin` (its `Origin` header) may read the answers.
  public func allows(_ origin: String) -> Bool { origins.contains(Self.normalized(origin)) }

  /// "HTTP://Example.com/" → "http://example.com": an origin has no path, and scheme and host
  /// are case-insensitive.
  private static func normalized(_ origin: String) -> String {
    var text = origin.trimmingCharacters(in: .whitespaces).lowercased()
    while text.hasSuffix("/") { text.removeLast() }
    return text
  }
}

extension Metadata {
  fileprivate func removingAll(_ key: String) -> Metadata {
    var copy = self
    copy.removeAllValues(forKey: key)
    return copy
  }
}

/// Connect's `connect-timeout-ms` as the `grpc-timeout` the routes read (at most 8 digits).
enum ConnectTimeout {
  static func grpcTimeout(_ milliseconds: String) -> String? {
    guard (1...10).contains(milliseconds.utf8.count),
      milliseconds.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
      let value = Int64(milliseconds)
    else { return nil }
    return value < 100_000_000 ? "\(value)m" : "\(value / 1000)S"
  }
}
