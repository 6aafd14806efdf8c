import Synchronization

/// The serving status of each gRPC service of this process ("" is the process as a whole),
/// as reported by `grpc.health.v1.Health`; watchers hear every change.
public final class HealthStatusBoard: Sendable {
  public enum Status: Sendable, Equatable {
    case serving
    case notServing
  }

  private struct State {
    var statuses: [String: Status] = [:]
    var watchers: [Int: (service: String, continuation: AsyncStream<Status?>.Continuation)] = [:]
    var nextWatcherID = 0
  }

  private let state = Mutex(State())

  public init() {}

  /// The status of `service`, or nil when this process does not serve it.
  public func status(of service: String) -> Status? {
    state.withLock { $0.statuses[service] }
  }

  public func set(_ status: Status, for services: [String]) {
    let toNotify = state.withLock { state in
      for service in services { state.statuses[service] = status }
      return state.watchers.values.filter { services.contains($0.service) }.map(\.continuation)
    }
    for continuation in toNotify { continuation.yield(status) }
  }

  /// Every service this process has reported on, now set to `status`.
  public func setAll(_ status: Status) {
    set(status, for: state.withLock { Array($0.statuses.keys) })
  }

  /// Ends every watch (at shutdown, so open Watch RPCs do not hold the server up).
  public func finishWatchers() {
    let continuations = state.withLock { state in
      defer { state.watchers.removeAll() }
      return state.watchers.values.map(\.continuation)
    }
    for continuation in continuations { continuation.finish() }
  }

  /// The current status of `service` and then each change, until the consumer stops.
  public func updates(of service: String) -> AsyncStream<Status?> {
    let (stream, continuation) = AsyncStream<Status?>.makeStream(
      bufferingPolicy: .bufferingNewest(1)
    )
    let id = state.withLock { state in
      let id = state.nextWatcherID
      state.nextWatcherID += 1
      state.watchers[id] = (service, continuation)
      continuation.yield(state.statuses[service])
      return id
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
    }
    return stream
  }
}
