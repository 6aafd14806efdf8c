import ServiceLifecycle

/// A background worker's loop: once `gate` opens (start-up finished), runs `pass` every
/// `interval` until graceful shutdown or cancellation. The wait between passes ends early on
/// graceful shutdown, so SIGTERM never waits out a whole interval. `pass` handles (and logs)
/// its own errors: one failed pass never ends the loop.
public func repeatEvery(
  _ interval: Duration, startingAfter gate: StartupGate? = nil, firstPassAtOnce: Bool = true,
  _ pass: () async -> Void
) async {
  if let gate, await !gate.mayStart() { return }
  if !firstPassAtOnce { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } }
  while !Task.isShuttingDownGracefully && !Task.isCancelled {
    await pass()
    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
  }
}
