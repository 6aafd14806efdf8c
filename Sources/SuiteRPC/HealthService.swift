package import GRPCCore
package import GuanceContracts
import SwiftProtobuf

/// The standard `grpc.health.v1.Health` service over a `HealthStatusBoard`, so probes,
/// load balancers and grpcurl-style tools see whether this process can serve.
package struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
  private let board: HealthStatusBoard

  package init(board: HealthStatusBoard) {
    self.board = board
  }

  package func check(
    request: Grpc_Health_V1_HealthCheckRequest,
    context: ServerContext
  ) async throws -> Grpc_Health_V1_HealthCheckResponse {
    guard let status = board.status(of: request.service) else {
      throw RPCError(code: .notFound, message: "unknown service '\(request.service)'")
    }
    return .with { $0.status = Self.wire(status) }
  }

  package func watch(
    request: Grpc_Health_V1_HealthCheckRequest,
    response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
    context: ServerContext
  ) async throws {
    for await status in board.updates(of: request.service) {
      try await response.write(.with { $0.status = status.map(Self.wire) ?? .serviceUnknown })
    }
  }

  private static func wire(
    _ status: HealthStatusBoard.Status
  )
    -> Grpc_Health_V1_HealthCheckResponse.ServingStatus
  {
    switch status {
    case .serving: .serving
    case .notServing: .notServing
    }
  }
}
