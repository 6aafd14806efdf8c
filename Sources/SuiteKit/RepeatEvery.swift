import ServiceLifecycle

/// A background worker's loop: once `gate` opens (start-up finished), runs `pass` every
/// `interval` until graceful shutdown or cancellation. The wait between passes ends early on
/// graceful shutdown, so SIGTERM never waits out a whole interval. `pass` handles (and logs)
/// its own errors: one failed pass never ends the loop.
public func repeatEvery(
  _ interval: Duration,
  startingAfter gate: StartupGate? = nil,
  firstPassAtOnce: Bool = true,
  _ pass: () async -> Void
) async {
  await drainEvery(interval, startingAfter: gate, firstPassAtOnce: firstPassAtOnce) {
    await pass()
    return false
  }
}

/// The same for a worker that drains a queue: `pass` returns true when it may have left work
/// behind (it took a full batch), and then runs again at once; `wait` is how it waits between
/// passes (a sleep of `interval` unless, say, a doorbell can end it early).
public func drainEvery(
  _ interval: Duration,
  startingAfter gate: StartupGate? = nil,
  firstPassAtOnce: Bool = true,
  waitingWith wait: @escaping @Sendable (Duration) async -> Void = {
    try? await Task.sleep(for: $0)
  },
  _ pass: () async -> Bool
) async {
  if let gate, await !gate.mayStart() { return }
  if !firstPassAtOnce { await cancelWhenGracefulShutdown { await wait(interval) } }
  while !Task.isShuttingDownGracefully && !Task.isCancelled {
    if await pass() { continue }
    await cancelWhenGracefulShutdown { await wait(interval) }
  }
}
