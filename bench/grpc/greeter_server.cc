// The reference server of `make bench`: grpc C++ (Debian's libgrpc++), callback API, one
// unary RPC. Usage: greeter-cpp PORT READY_FILE  (PORT 0 picks a free port).
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "bench/v1/greeter.grpc.pb.h"

namespace {

class Greeter final : public bench::v1::Greeter::CallbackService {
  grpc::ServerUnaryReactor* SayHello(grpc::CallbackServerContext* context,
                                     const bench::v1::HelloRequest* request,
                                     bench::v1::HelloReply* reply) override {
    reply->set_message("hello " + request->name());
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: greeter-cpp PORT READY_FILE\n";
    return 2;
  }
  Greeter service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(std::string("127.0.0.1:") + argv[1], grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "greeter-cpp: could not listen\n";
    return 1;
  }
  std::ofstream(argv[2]) << "127.0.0.1:" << port << "\n";
  server->Wait();
  return 0;
}
