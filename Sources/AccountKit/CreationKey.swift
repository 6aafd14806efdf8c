import SuiteErrors

/// A caller's key for one creation (a registration, a workspace), so that a retry of it finds
/// what the first call made instead of making it twice or refusing it as a duplicate.
public enum CreationKey {
  /// The key, nil when none was given; a violation of `creation_key` when it is not usable.
  public static func check(_ raw: String?, into validation: inout Validation) -> String? {
    guard let raw, !raw.isEmpty else { return nil }
    validation.require(
      raw.count <= 128 && !raw.containsControlCharacters(),
      "creation_key",
      "must be at most 128 characters, without control characters"
    )
    return raw
  }
}
