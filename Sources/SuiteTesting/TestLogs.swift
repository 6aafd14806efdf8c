public import Foundation
import Synchronization

/// Where the service processes of a test write their logs.
///
/// Under `make test` (`SUITE_TEST_LOGS` set) each test that starts services gets a folder of
/// its own, named after the test as the summary names it (`Target.Suite.test`), kept after the
/// run so that a failure can be read in full; otherwise a log sits in the process's work
/// directory, as before.
public enum TestLogs {
  /// The running test's folder name, set by `.startsServices`.
  @TaskLocal static var testFolder: String?

  private static let started = Atomic(0)

  /// `Target.Suite.test()` with every character a path would trip on made `_`; `make test`
  /// derives the same name from the summary's failing tests.
  static func folderName(module: String, components: [String]) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-()")
    return ([module] + components).joined(separator: ".").map { allowed.contains($0) ? $0 : "_" }
      .reduce("") {
        $0 + String($1)
      }
  }

  /// A new log file for `service`: in the test's folder when logs are kept, else in `workDirectory`.
  static func file(for service: String, else workDirectory: URL) throws -> URL {
    guard let root = ProcessInfo.processInfo.environment["SUITE_TEST_LOGS"], let folder = testFolder
    else {
      return workDirectory.appendingPathComponent("\(service).log")
    }
    let directory = URL(fileURLWithPath: root).appendingPathComponent(folder)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    // Numbered in start order: a test that restarts a service, or a parameterized test's cases,
    // keep every log.
    let number = started.add(1, ordering: .relaxed).newValue
    return directory.appendingPathComponent("\(service)-\(number).log")
  }
}
