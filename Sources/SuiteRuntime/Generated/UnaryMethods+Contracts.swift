// swift-format-ignore-file
import GRPCCore
import GuanceContracts

extension UnaryMethods {
  static func register(_ service: any RegistrableRPCService, in methods: inout UnaryMethods) {
    if let service = service as? any Bench_V1_Greeter.ServiceProtocol {
      methods.register(Bench_V1_Greeter.Method.SayHello.descriptor) { (request: ServerRequest<Bench_V1_Greeter.Method.SayHello.Input>, context) in
        try await service.sayHello(request: request, context: context)
      }
    }
    if let service = service as? any Grpc_Health_V1_Health.ServiceProtocol {
      methods.register(Grpc_Health_V1_Health.Method.Check.descriptor) { (request: ServerRequest<Grpc_Health_V1_Health.Method.Check.Input>, context) in
        try await service.check(request: request, context: context)
      }
    }
  }
}
