public import GRPCCore

/// A unary RPC's deadline (its `grpc-timeout`), as both server paths keep it. GRPCCore only
/// cancels the RPC's cancellation handle when the deadline passes; a handler waiting for
/// something that ignores the handle — a connection from an exhausted database pool, a
/// statement on a paused PostgreSQL, another service — then kept its place in that queue for a
/// caller who had left, and a stalled database gathered every such RPC until it came back.
/// Here the handler's task is cancelled too, which postgres-nio and GRPCCore's clients honour.
enum RPCDeadline {
  /// Runs `body` until it returns; when `deadline` passes first, calls `onPassed` and cancels
  /// `body`'s task, then still waits for what it returns (`passed` says which came first).
  static func race<Answer: Sendable>(
    _ deadline: ContinuousClock.Instant,
    onPassed: @escaping @Sendable () -> Void,
    _ body: @escaping @Sendable () async -> Answer
  ) async -> (answer: Answer, passed: Bool) {
    await withTaskGroup(of: Answer?.self) { group in
      group.addTask { await body() }
      group.addTask {
        // nil: the deadline came, or the answer came first and this sleep was cancelled.
        try? await Task.sleep(until: deadline, tolerance: .zero, clock: .continuous)
        return nil
      }
      var passed = false
      while let next = await group.next() {
        if let answer = next {
          group.cancelAll()
          return (answer, passed)
        }
        if !passed, ContinuousClock.now >= deadline {
          passed = true
          onPassed()
          group.cancelAll()
        }
      }
      // The body's task always yields a value before the group runs dry.
      preconditionFailure("a deadline race ended without its answer")
    }
  }

  /// What the caller is told when the deadline passed before the handler answered.
  static let exceeded = RPCError(
    code: .deadlineExceeded,
    message: "the deadline passed before the RPC was done"
  )
  /// What a cancelled handler is taken to have answered, whatever it threw.
  static let cancelled = RPCError(code: .cancelled, message: "the RPC was cancelled")
}
