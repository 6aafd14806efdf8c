import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import GuanceContracts
import SuiteKit
import SuiteRPC
import SwiftProtobuf

/// Where the gateway is and how to speak to it; shared by every command.
struct GlobalOptions: ParsableArguments {
  @Option(
    help: "The gateway's gRPC address (host:port); default: $GATEWAY_ADDRESS or 127.0.0.1:7100."
  )
  var address: String?

  @Option(help: "The suite's internal credential; default: $INTERNAL_CREDENTIAL.")
  var credential: String?

  @Flag(help: "Print the gateway's answer as JSON instead of tables.")
  var json = false

  typealias Admin = Guance_Gateway_V1_GatewayAdminService.Client<HTTP2ClientTransport.Posix>

  /// Connects (TLS from $GRPC_CLIENT_CA_FILE and friends, as the services do), runs `body`
  /// with the admin client and the credential's metadata, and disconnects.
  func withAdmin<Result: Sendable>(
    _ body: (Admin, Metadata) async throws -> Result
  ) async throws -> Result {
    let environment = ProcessInfo.processInfo.environment
    let config = ConfigReader()
    guard let credential = credential ?? config.optional("INTERNAL_CREDENTIAL") else {
      throw ValidationError("no credential: pass --credential or set INTERNAL_CREDENTIAL")
    }
    let target = address ?? environment["GATEWAY_ADDRESS"] ?? "127.0.0.1:7100"
    let transport: HTTP2ClientTransport.Posix
    do {
      transport = try GRPCClientService.transport(
        address: target,
        variable: "--address",
        tls: try ClientTLS(config: config)
      )
    } catch {
      throw ValidationError("\(error)")
    }
    let metadata: Metadata = ["authorization": "Bearer \(credential)"]
    return try await withGRPCClient(transport: transport) { client in
      do {
        return try await body(Admin(wrapping: client), metadata)
      } catch let error as RPCError {
        throw Failure(error)
      }
    }
  }

  /// Prints `message` as JSON, or hands it to `table`.
  func show<Message: SwiftProtobuf.Message>(_ message: Message, table: (Message) -> Void) throws {
    if json {
      print(try message.jsonString())
    } else {
      table(message)
    }
  }
}

/// A gateway refusal, printed with its details, ending the command with status 1.
struct Failure: Error, CustomStringConvertible {
  let error: RPCError

  init(_ error: RPCError) { self.error = error }

  var description: String {
    var lines = ["\(error.code): \(error.message)"]
    if let status = try? error.unpackGoogleRPCStatus() {
      for detail in status.details {
        if let info = detail.errorInfo {
          lines.append("  reason \(info.reason) (\(info.domain))")
        }
        if let request = detail.badRequest {
          lines += request.violations.map { "  \($0.field): \($0.description)" }
        }
        if let precondition = detail.preconditionFailure {
          lines += precondition.violations.map { "  \($0.type) \($0.subject): \($0.description)" }
        }
        if let resource = detail.resourceInfo {
          lines.append("  \(resource.type) \(resource.name)")
        }
      }
    }
    return lines.joined(separator: "\n")
  }
}
