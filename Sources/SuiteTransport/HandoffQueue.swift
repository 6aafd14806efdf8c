import Synchronization

/// Elements handed from an event loop to the one task that reads them, in order, ended once
/// (with or without an error). It does for the server transport what `AsyncThrowingStream`
/// did, without the standard library's unspecialized generic code: that stream looked its
/// generic metadata up on every yield and read, ~6 % of a unary RPC's CPU in the profile
/// (`bench/results/grpc-changes.md`). A read that finds an element waiting does not suspend.
final class HandoffQueue<Element: Sendable>: Sendable {
  private struct State {
    var waiting: [Element] = []
    /// Elements before it have been read.
    var head = 0
    /// Set once ended: `.success` for a plain end, the error still to throw otherwise.
    var end: Result<Void, any Error>?
    var reader: UnsafeContinuation<Element?, any Error>?

    /// The next element, or the end, if either is there to read now.
    mutating func takeReady() -> Result<Element?, any Error>? {
      if head < waiting.count {
        let element = waiting[head]
        head += 1
        if head == waiting.count {
          waiting.removeAll(keepingCapacity: true)
          head = 0
        }
        return .success(element)
      }
      guard let end else { return nil }
      // The error is thrown once; reads after it find a plain end.
      self.end = .success(())
      return end.map { nil }
    }
  }

  private let state = Mutex(State())

  func yield(_ element: Element) {
    let reader = state.withLock { state -> UnsafeContinuation<Element?, any Error>? in
      guard state.end == nil else { return nil }
      guard let reader = state.reader else {
        state.waiting.append(element)
        return nil
      }
      state.reader = nil
      return reader
    }
    reader?.resume(returning: element)
  }

  /// Ends the queue once its waiting elements are read; later yields are dropped.
  func finish(throwing error: (any Error)? = nil) {
    let reader = state.withLock { state -> UnsafeContinuation<Element?, any Error>? in
      guard state.end == nil else { return nil }
      guard let reader = state.reader else {
        state.end = error.map { .failure($0) } ?? .success(())
        return nil
      }
      state.reader = nil
      state.end = .success(())
      return reader
    }
    if let error { reader?.resume(throwing: error) } else { reader?.resume(returning: nil) }
  }

  /// The next element; nil once ended (or once the reading task is cancelled, which also
  /// drops what was waiting).
  func next() async throws -> Element? {
    if let ready = state.withLock({ $0.takeReady() }) { return try ready.get() }
    return try await withTaskCancellationHandler {
      try await withUnsafeThrowingContinuation { reader in
        let ready = state.withLock { state -> Result<Element?, any Error>? in
          if let ready = state.takeReady() { return ready }
          state.reader = reader
          return nil
        }
        if let ready { reader.resume(with: ready) }
      }
    } onCancel: {
      cancel()
    }
  }

  private func cancel() {
    let reader = state.withLock { state -> UnsafeContinuation<Element?, any Error>? in
      state.waiting = []
      state.head = 0
      state.end = .success(())
      defer { state.reader = nil }
      return state.reader
    }
    reader?.resume(returning: nil)
  }
}
