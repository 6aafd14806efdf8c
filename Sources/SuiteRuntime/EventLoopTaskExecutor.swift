import NIOCore

/// An event loop as a task executor: tasks that prefer it run their jobs on the loop's thread
/// (`UnaryRPC.serve`). This version of SwiftNIO offers none. A job enqueued from the loop
/// itself, the usual case, runs in the same pass without waking anything.
final class EventLoopTaskExecutor: TaskExecutor {
  private let loop: any EventLoop

  init(_ loop: any EventLoop) {
    self.loop = loop
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    let executor = asUnownedTaskExecutor()
    loop.execute { job.runSynchronously(on: executor) }
  }
}
