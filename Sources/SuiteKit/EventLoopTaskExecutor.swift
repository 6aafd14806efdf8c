public import NIOCore
import Synchronization

/// An event loop as a task executor: tasks that prefer it run their jobs on the loop's thread
/// (`UnaryCall.serve`, `PostgresConnection.whileOpen`). This version of SwiftNIO offers none. A
/// job enqueued from the loop itself, the usual case, runs in the same pass without waking
/// anything.
public final class EventLoopTaskExecutor: TaskExecutor {
  private let loop: any EventLoop

  private init(_ loop: any EventLoop) {
    self.loop = loop
  }

  public func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    loop.execute { job.runSynchronously(on: executor) }
  }

  /// One executor per loop, kept for the process's life as the loops are: a task already on
  /// `loop`'s executor (an RPC's handler) that prefers it again (for a statement on a database
  /// connection of the same loop) then goes on without a hop.
  private static let made = Mutex<[ObjectIdentifier: EventLoopTaskExecutor]>([:])

  public static func of(_ loop: any EventLoop) -> EventLoopTaskExecutor {
    made.withLock { made in
      if let known = made[ObjectIdentifier(loop)] { return known }
      let executor = EventLoopTaskExecutor(loop)
      made[ObjectIdentifier(loop)] = executor
      return executor
    }
  }
}
