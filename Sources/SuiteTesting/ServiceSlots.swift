public import Foundation
public import Testing

/// How many tests that start service processes run at once.
///
/// Each such test starts three to five processes (the emulator, the services, sometimes
/// PostgreSQL clients of its own) and migrates a database for each: run all of them at once on
/// a 2-core machine and the load reaches 20, start-ups take longer than any client deadline and
/// the tests fail at random. `swift test` runs every test target in one process, so one gate
/// here bounds them all; tests that start no process are not held back by it.
public actor ServiceSlots {
  /// The gate every test tagged `.startsServices` passes through.
  public static let shared = ServiceSlots(slots: configuredSlots)

  /// `SUITE_SERVICE_TESTS` (set by `make test`), else 2: measured on 2 cores, two such tests
  /// side by side keep the machine busy without starving either.
  static var configuredSlots: Int {
    ProcessInfo.processInfo.environment["SUITE_SERVICE_TESTS"].flatMap { Int($0) }.map {
      max(1, $0)
    } ?? 2
  }

  /// Whether the current task runs inside a held slot (child tasks inherit it).
  @TaskLocal public static var isHeld = false

  private var free: Int
  private var waiting: [CheckedContinuation<Void, Never>] = []

  init(slots: Int) {
    free = slots
  }

  /// Runs `body` once a slot is free, first come first served; a body already inside a slot
  /// (a helper that nests another) runs at once.
  public nonisolated func hold<Result: Sendable>(
    _ body: @Sendable () async throws -> Result
  ) async throws -> Result {
    if Self.isHeld { return try await body() }
    await acquire()
    do {
      let result = try await Self.$isHeld.withValue(true) { try await body() }
      await release()
      return result
    } catch {
      await release()
      throw error
    }
  }

  private func acquire() async {
    if free > 0 {
      free -= 1
      return
    }
    await withCheckedContinuation { waiting.append($0) }
  }

  private func release() {
    if waiting.isEmpty {
      free += 1
    } else {
      // The slot passes straight to the longest waiter.
      waiting.removeFirst().resume()
    }
  }
}

/// The trait that makes every test of a suite (or one test) wait for a service slot.
public struct StartsServicesTrait: SuiteTrait, TestTrait, TestScoping {
  public var isRecursive: Bool { true }

  /// Each test case holds a slot of its own; the suite as a whole holds none.
  public func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
    testCase == nil ? nil : self
  }

  public func provideScope(
    for test: Test,
    testCase: Test.Case?,
    performing function: @Sendable () async throws -> Void
  ) async throws {
    let folder = TestLogs.folderName(module: test.id.moduleName, components: test.id.nameComponents)
    try await TestLogs.$testFolder.withValue(folder) {
      try await ServiceSlots.shared.hold { try await function() }
    }
  }
}

extension Trait where Self == StartsServicesTrait {
  /// The test starts service processes (`ServiceProcess`): it runs when a service slot is free.
  public static var startsServices: Self { Self() }
}
