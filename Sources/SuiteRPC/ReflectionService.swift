import Foundation
package import GRPCCore
package import GuanceContracts
import SwiftProtobuf

/// gRPC server reflection (`grpc.reflection.v1`, and `v1alpha` for older tools), so grpcurl,
/// Postman, Kreya, grpcui and `buf curl` call the services without their proto files. It
/// answers from the descriptors protoc compiled (`ContractDescriptors`), for the services this
/// server serves and the files they import: every service is listed, including the ones only
/// the suite may call, which still refuse a caller without the internal credential.
package struct ReflectionService: Grpc_Reflection_V1_ServerReflection.SimpleServiceProtocol {
  private let answers: ReflectionAnswers

  package init(serving services: [String]) {
    answers = ReflectionAnswers(services: services, descriptors: .contracts)
  }

  /// The same service under `grpc.reflection.v1alpha`, answering alike.
  package var v1alpha: V1Alpha { V1Alpha(answers: answers) }

  package func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    for try await question in request {
      try await response.write(answers.answer(question))
    }
  }

  /// The same service under `grpc.reflection.v1alpha`, whose messages are v1's field for
  /// field: each is carried across by its bytes.
  package struct V1Alpha: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
    fileprivate let answers: ReflectionAnswers

    package func serverReflectionInfo(
      request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
      response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>,
      context: ServerContext
    ) async throws {
      for try await question in request {
        let asked = try Grpc_Reflection_V1_ServerReflectionRequest(
          serializedBytes: try question.serializedBytes() as [UInt8]
        )
        try await response.write(
          Grpc_Reflection_V1alpha_ServerReflectionResponse(
            serializedBytes: try answers.answer(asked).serializedBytes() as [UInt8]
          )
        )
      }
    }
  }

  /// Both versions' full names, for the health board and the list of services.
  package static let names = [
    "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection",
  ]
}

/// What reflection says to each question, for one server's services.
struct ReflectionAnswers: Sendable {
  let services: [String]
  let descriptors: ContractDescriptors
  /// The files reflection may send: those declaring the served services, and their imports.
  let files: Set<String>

  init(services: [String], descriptors: ContractDescriptors) {
    self.services = services.sorted()
    self.descriptors = descriptors
    files = Set(descriptors.withImports(services.compactMap { descriptors.fileOfSymbol[$0] }))
  }

  func answer(
    _ question: Grpc_Reflection_V1_ServerReflectionRequest
  ) -> Grpc_Reflection_V1_ServerReflectionResponse {
    var answer = Grpc_Reflection_V1_ServerReflectionResponse()
    answer.validHost = question.host
    answer.originalRequest = question
    switch question.messageRequest {
    case .listServices:
      answer.listServicesResponse = .with {
        $0.service = services.map { name in .with { $0.name = name } }
      }
    case .fileByFilename(let name):
      answer.messageResponse = fileResponse(files.contains(name) ? name : nil, "file \(name)")
    case .fileContainingSymbol(let symbol):
      answer.messageResponse = fileResponse(
        descriptors.fileOfSymbol[symbol].flatMap { files.contains($0) ? $0 : nil },
        "symbol \(symbol)"
      )
    case .fileContainingExtension(let wanted):
      answer.messageResponse = fileResponse(
        descriptors.extensions[wanted.containingType]?[wanted.extensionNumber].flatMap {
          files.contains($0) ? $0 : nil
        },
        "extension \(wanted.extensionNumber) of \(wanted.containingType)"
      )
    case .allExtensionNumbersOfType(let type):
      guard let file = descriptors.fileOfSymbol[type], files.contains(file) else {
        answer.messageResponse = Self.notFound("type \(type)")
        break
      }
      answer.allExtensionNumbersResponse = .with {
        $0.baseTypeName = type
        $0.extensionNumber = (descriptors.extensions[type] ?? [:])
          .filter { files.contains($0.value) }.keys.sorted()
      }
    case nil:
      answer.errorResponse = .with {
        $0.errorCode = Int32(Status.Code.invalidArgument.rawValue)
        $0.errorMessage = "the request asks nothing: set one of its message_request fields"
      }
    }
    return answer
  }

  /// The file and every file it imports (a client needs them all to build the descriptor),
  /// or NOT_FOUND naming what was asked.
  private func fileResponse(
    _ file: String?,
    _ asked: String
  ) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
    guard let file else { return Self.notFound(asked) }
    return .fileDescriptorResponse(
      .with {
        $0.fileDescriptorProto = descriptors.withImports([file]).compactMap {
          descriptors.serialized[$0].map { Data($0) }
        }
      }
    )
  }

  private static func notFound(
    _ asked: String
  ) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
    .errorResponse(
      .with {
        $0.errorCode = Int32(Status.Code.notFound.rawValue)
        $0.errorMessage = "\(asked) is not known to this server"
      }
    )
  }
}
