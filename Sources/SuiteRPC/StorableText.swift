import Foundation
public import GRPCCore
public import SuiteErrors
import SuiteTransport
public import SwiftProtobuf

/// Every text field of every request, checked once, before any handler, for what PostgreSQL
/// cannot store: a `text` value cannot hold U+0000 (SQLSTATE 22021), so a request carrying one
/// would reach a query and come back INTERNAL. Protobuf's decoder already refuses text that is
/// not UTF-8; U+0000 is the one character it lets through that no column can keep. Both server
/// paths run it: the suite's unary path on each decoded request (`UnaryMethods`), GRPCCore's
/// through `StorableTextInterceptor`.
public enum StorableText {
  static let problem = "must not contain the character U+0000"

  /// INVALID_ARGUMENT naming each field path (proto names: `basic.username`,
  /// `workspace_ids[1]`) whose text holds U+0000; nothing when the message is storable.
  public static func check(_ message: some SwiftProtobuf.Message) throws(ServiceError) {
    var finder = NULFinder()
    // Traversal throws only what the visitor throws, and it throws nothing.
    try? message.traverse(visitor: &finder)
    guard finder.found else { return }
    throw ServiceError.invalid(
      fieldPaths(in: message).map { FieldViolation(field: $0, description: problem) }
    )
  }

  /// The same check for the suite's unary path, which holds the encoded request as well: a
  /// protobuf encoding with no zero byte anywhere cannot carry U+0000 in any field, and most
  /// requests have none, so they are not traversed at all.
  static func check(
    _ message: some SwiftProtobuf.Message,
    encoded bytes: MessageBytes
  ) throws(ServiceError) {
    let hasZero = bytes.withUnsafeBytes { raw in
      guard let start = raw.baseAddress else { return false }
      return memchr(start, 0, raw.count) != nil
    }
    guard hasZero else { return }
    try check(message)
  }

  /// The paths of the offending fields, from the message's JSON form (proto field names
  /// kept). Only refused requests come here, so its cost does not matter; the generated
  /// code's field names are not public API otherwise.
  static func fieldPaths(in message: some SwiftProtobuf.Message) -> [String] {
    var options = JSONEncodingOptions()
    options.preserveProtoFieldNames = true
    guard let json = try? message.jsonUTF8Data(options: options),
      let object = try? JSONSerialization.jsonObject(with: json)
    else { return ["(request)"] }
    var paths: [String] = []
    collect(object, at: "", into: &paths)
    return paths.isEmpty ? ["(request)"] : paths.sorted()
  }

  private static func collect(_ value: Any, at path: String, into paths: inout [String]) {
    switch value {
    case let text as String:
      if text.unicodeScalars.contains("\0") { paths.append(path) }
    case let object as [String: Any]:
      for (key, member) in object {
        let keyPath = path.isEmpty ? key : "\(path).\(key)"
        // A map's keys are text too.
        if key.unicodeScalars.contains("\0") { paths.append(path) }
        collect(member, at: keyPath, into: &paths)
      }
    case let array as [Any]:
      for (index, element) in array.enumerated() {
        collect(element, at: "\(path)[\(index)]", into: &paths)
      }
    default:
      break
    }
  }
}

/// Whether any string field, at any depth (repeated, maps and nested messages included),
/// holds U+0000.
private struct NULFinder: SwiftProtobuf.Visitor {
  var found = false

  mutating func visitSingularStringField(value: String, fieldNumber: Int) throws {
    if value.utf8.contains(0) { found = true }
  }
  mutating func visitRepeatedStringField(value: [String], fieldNumber: Int) throws {
    if value.contains(where: { $0.utf8.contains(0) }) { found = true }
  }
  mutating func visitSingularMessageField<M: Message>(value: M, fieldNumber: Int) throws {
    try value.traverse(visitor: &self)
  }
  mutating func visitMapField<KeyType, ValueType: MapValueType>(
    fieldType: _ProtobufMap<KeyType, ValueType>.Type,
    value: _ProtobufMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {
    for (key, element) in value { note(key); note(element) }
  }
  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufEnumMap<KeyType, ValueType>.Type,
    value: _ProtobufEnumMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {
    for key in value.keys { note(key) }
  }
  mutating func visitMapField<KeyType, ValueType>(
    fieldType: _ProtobufMessageMap<KeyType, ValueType>.Type,
    value: _ProtobufMessageMap<KeyType, ValueType>.BaseType,
    fieldNumber: Int
  ) throws {
    for (key, element) in value {
      note(key)
      try element.traverse(visitor: &self)
    }
  }

  private mutating func note(_ value: Any) {
    if let text = value as? String, text.utf8.contains(0) { found = true }
  }

  // Fields that are not text hold nothing to check.
  mutating func visitSingularDoubleField(value: Double, fieldNumber: Int) throws {}
  mutating func visitSingularInt64Field(value: Int64, fieldNumber: Int) throws {}
  mutating func visitSingularUInt64Field(value: UInt64, fieldNumber: Int) throws {}
  mutating func visitSingularBoolField(value: Bool, fieldNumber: Int) throws {}
  mutating func visitSingularBytesField(value: Data, fieldNumber: Int) throws {}
  mutating func visitSingularEnumField<E: Enum>(value: E, fieldNumber: Int) throws {}
  mutating func visitUnknown(bytes: Data) throws {}
}

/// `StorableText` on GRPCCore's server path: each request message is checked as the handler
/// reads it, so a refused one never reaches the handler's code. The refusal is thrown where the
/// handler reads, inside `ErrorMappingInterceptor` (placed after this one), which turns it into
/// INVALID_ARGUMENT.
public struct StorableTextInterceptor: ServerInterceptor {
  public init() {}

  public func intercept<Input: Sendable, Output: Sendable>(
    request: StreamingServerRequest<Input>,
    context: ServerContext,
    next:
      @Sendable (StreamingServerRequest<Input>, ServerContext) async throws ->
      StreamingServerResponse<Output>
  ) async throws -> StreamingServerResponse<Output> {
    var request = request
    let messages = request.messages
    request.messages = RPCAsyncSequence(
      wrapping: messages.map { message in
        if let message = message as? any SwiftProtobuf.Message { try StorableText.check(message) }
        return message
      }
    )
    return try await next(request, context)
  }
}
