public import SuiteErrors

/// Collects every field violation of a request before failing, so a caller learns all
/// that is wrong at once.
public struct Validation: Sendable {
  public private(set) var violations: [FieldViolation] = []
  /// Put before every field name recorded from now on: where shared rules (an account's
  /// identity, say) sit in the request at hand, e.g. `basic.` or `new_account.`.
  public var fieldPath = ""

  public init() {}

  /// The parsed value, or nil after recording why `field` is invalid.
  public mutating func check<Value>(
    _ field: String,
    _ parse: () throws(FieldProblem) -> Value
  ) -> Value? {
    do {
      return try parse()
    } catch {
      violations.append(FieldViolation(field: fieldPath + field, description: error.description))
      return nil
    }
  }

  /// Records `field`'s violation unless `condition` holds. The field's name and description
  /// are only made for a violation: usage batches check five fields of each of a thousand
  /// events, and making the strings cost more than the checks.
  public mutating func require(
    _ condition: Bool,
    _ field: @autoclosure () -> String,
    _ description: @autoclosure () -> String
  ) {
    if !condition {
      violations.append(FieldViolation(field: fieldPath + field(), description: description()))
    }
  }

  /// Throws INVALID_ARGUMENT with every recorded violation, if any.
  public func finish() throws(ServiceError) {
    if !violations.isEmpty { throw ServiceError.invalid(violations) }
  }
}

/// Why one field's value is unacceptable, in words fit for the caller.
public struct FieldProblem: Error, Sendable, CustomStringConvertible {
  public var description: String

  public init(_ description: String) {
    self.description = description
  }
}
