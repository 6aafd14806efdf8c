// The timed part of the activation benchmark: ResolveActivation then BindWorkspace through the
// gateway's public API, CONCURRENCY activations in flight, with grpc C++'s callback API.
// activation-load (Swift) prepares the purchases and workspaces and runs this when
// ACTIVATION_DRIVER names it: a load generator that shares the 2 cores with what it measures
// should take as little of them as it can (as h2load does for the RPC benchmark).
//
//   activation-driver HOST:PORT CONCURRENCY < input
//   input: one activation per line, "TOKEN WORKSPACE": a marketplace token and the workspace
//          to bind (each its own: a workspace paid through one active subscription is refused
//          to another). Worker w of C runs activations w, w+C, ...
//   output: per activation "TOTAL_MS RESOLVE_MS"; last "done SECONDS CPU_MS" (CPU of this
//           process, all its threads). Any RPC error or a reply not ACTIVATED ends it (exit 1).
//
// Messages are encoded by hand (two string fields each) and the replies read only for the
// activation's session id (1) and state (2), so no generated code is needed.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kResolve = "/guance.gateway.v1.ActivationService/ResolveActivation";
constexpr const char* kBind = "/guance.gateway.v1.ActivationService/BindWorkspace";
constexpr int kActivated = 4;  // ACTIVATION_STATE_ACTIVATED

void put_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_string(std::string& out, int field, const std::string& value) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | 2);
  put_varint(out, value.size());
  out += value;
}

grpc::ByteBuffer buffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool get_varint(const std::string& in, size_t& at, uint64_t& value) {
  value = 0;
  for (int shift = 0; shift < 64 && at < in.size(); shift += 7) {
    uint8_t byte = static_cast<uint8_t>(in[at++]);
    value |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

struct Activation {
  std::string session_id;
  int state = 0;
};

// The reply's field 1 (the Activation), and in it the session id and state; other fields skipped.
std::optional<Activation> read_activation(const grpc::ByteBuffer& reply) {
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return std::nullopt;
  std::string bytes;
  for (auto& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  auto fields = [](const std::string& in, auto&& on_field) {
    size_t at = 0;
    while (at < in.size()) {
      uint64_t key, value;
      if (!get_varint(in, at, key)) return false;
      switch (key & 7) {
        case 0:
          if (!get_varint(in, at, value)) return false;
          on_field(key >> 3, value, std::string());
          break;
        case 1: at += 8; break;
        case 5: at += 4; break;
        case 2:
          if (!get_varint(in, at, value) || at + value > in.size()) return false;
          on_field(key >> 3, 0, in.substr(at, value));
          at += value;
          break;
        default: return false;
      }
    }
    return at == in.size();
  };
  std::string message;
  if (!fields(bytes, [&](uint64_t field, uint64_t, const std::string& text) { if (field == 1) message = text; }))
    return std::nullopt;
  Activation activation;
  if (!fields(message, [&](uint64_t field, uint64_t number, const std::string& text) {
        if (field == 1) activation.session_id = text;
        if (field == 2) activation.state = static_cast<int>(number);
      }))
    return std::nullopt;
  return activation;
}

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

class Driver {
 public:
  Driver(std::shared_ptr<grpc::Channel> channel, int workers,
         std::vector<std::pair<std::string, std::string>> activations)
      : stub_(channel), workers_(workers), activations_(std::move(activations)) {}

  // Runs every activation; false after the first failure (reported on stderr).
  bool run() {
    running_ = workers_;
    for (int worker = 0; worker < workers_; ++worker) start(worker, static_cast<size_t>(worker));
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return running_ == 0; });
    return !failed_;
  }

  const std::vector<std::pair<double, double>>& samples() const { return samples_; }

 private:
  struct Call {
    int worker;
    size_t index;
    Clock::time_point sent, resolved;
    std::unique_ptr<grpc::ClientContext> context;
    grpc::ByteBuffer request, reply;
  };

  void fresh_context(Call* call) {
    call->context = std::make_unique<grpc::ClientContext>();
    call->context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->reply.Clear();
  }

  void start(int worker, size_t index) {
    if (index >= activations_.size() || failed_) return finish_worker();
    auto* call = new Call{worker, index, Clock::now(), {}, nullptr, {}, {}};
    std::string bytes;
    put_string(bytes, 1, activations_[index].first);
    call->request = buffer(bytes);
    fresh_context(call);
    stub_.UnaryCall(call->context.get(), kResolve, grpc::StubOptions(), &call->request, &call->reply,
                    [this, call](grpc::Status status) { resolved(call, status); });
  }

  void resolved(Call* call, const grpc::Status& status) {
    auto activation = status.ok() ? read_activation(call->reply) : std::nullopt;
    if (!activation || activation->session_id.empty()) return fail(call, "ResolveActivation", status);
    call->resolved = Clock::now();
    std::string bytes;
    put_string(bytes, 1, activation->session_id);
    put_string(bytes, 2, activations_[call->index].second);
    call->request = buffer(bytes);
    fresh_context(call);
    stub_.UnaryCall(call->context.get(), kBind, grpc::StubOptions(), &call->request, &call->reply,
                    [this, call](grpc::Status status) { bound(call, status); });
  }

  void bound(Call* call, const grpc::Status& status) {
    auto activation = status.ok() ? read_activation(call->reply) : std::nullopt;
    if (!activation || activation->state != kActivated) return fail(call, "BindWorkspace", status);
    auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      samples_.emplace_back(ms(now - call->sent), ms(call->resolved - call->sent));
    }
    int worker = call->worker;
    size_t next = call->index + static_cast<size_t>(workers_);
    delete call;
    start(worker, next);
  }

  void fail(Call* call, const char* rpc, const grpc::Status& status) {
    std::cerr << "activation-driver: " << rpc << " of activation " << call->index << " failed: "
              << (status.ok() ? std::string("reply not ACTIVATED or unreadable")
                              : "status " + std::to_string(status.error_code()) + " " + status.error_message())
              << std::endl;
    failed_ = true;
    delete call;
    finish_worker();
  }

  void finish_worker() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--running_ == 0) done_.notify_all();
  }

  grpc::GenericStub stub_;
  int workers_;
  std::vector<std::pair<std::string, std::string>> activations_;
  std::atomic<bool> failed_{false};
  std::mutex mutex_;
  std::condition_variable done_;
  int running_ = 0;
  std::vector<std::pair<double, double>> samples_;
};

double cpu_ms() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto total = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return total(usage.ru_utime) + total(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::atoi(argv[2]) <= 0) {
    std::cerr << "usage: activation-driver HOST:PORT CONCURRENCY < lines-of-token-and-workspace" << std::endl;
    return 2;
  }
  std::string line;
  std::vector<std::pair<std::string, std::string>> activations;
  while (std::getline(std::cin, line)) {
    std::istringstream words(line);
    std::string token, workspace;
    if (!(words >> token >> workspace)) {
      if (line.empty()) continue;
      std::cerr << "activation-driver: expected a token and a workspace, got: " << line << std::endl;
      return 2;
    }
    activations.emplace_back(token, workspace);
  }
  if (activations.empty()) {
    std::cerr << "activation-driver: no activations given" << std::endl;
    return 2;
  }
  auto channel = grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "activation-driver: cannot connect to " << argv[1] << std::endl;
    return 1;
  }
  Driver driver(channel, std::atoi(argv[2]), std::move(activations));
  double cpu_before = cpu_ms();
  auto started = Clock::now();
  bool ok = driver.run();
  double seconds = ms(Clock::now() - started) / 1000;
  if (!ok) return 1;
  std::string out;
  char row[64];
  for (auto& [total, resolve] : driver.samples()) {
    std::snprintf(row, sizeof row, "%.3f %.3f\n", total, resolve);
    out += row;
  }
  std::snprintf(row, sizeof row, "done %.3f %.1f\n", seconds, cpu_ms() - cpu_before);
  out += row;
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
