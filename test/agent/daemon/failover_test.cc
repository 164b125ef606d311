// Failover on the data plane: the entry retries a request whose next stage died on the newly
// committed epoch, or that is overdue on a replaced epoch (its stage hung), and serving continues while the orchestrator is away and the agent re-registers.
#include <sys/socket.h>

#include <catch.hpp>

#include "test/support/test_pki.h"
#include <filesystem>
#include <future>
#include <latch>
#include <thread>

#include "agent/daemon/agent.h"
#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/profiler.h"
#include "agent/runtime/torch_threads.h"
#include "agent/transport/client.h"
#include "agent/transport/frame.h"
#include "common/model/manifest.h"
#include "common/proto/data.pb.h"
#include "test/agent/daemon/test_controller.h"

using namespace edgesplit;
using namespace edgesplit::testing;
using namespace std::chrono_literals;
using transport::RejectReason;
namespace asio = boost::asio;


namespace {

// Pass-through segment over [first, end) that optionally waits for a gate before running.
class RangeSegment : public SegmentExecutor {
 public:
  RangeSegment(int first, int end, std::shared_future<void> gate) : first_(first), end_(end), gate_(std::move(gate)) {
    spec_.dtype = DType::kFloat32;
    spec_.shape = {4};
  }
  int first_layer() const override { return first_; }
  int end_layer() const override { return end_; }
  const TensorSpec& input_spec() const override { return spec_; }
  const TensorSpec& output_spec() const override { return spec_; }
  Result<HostTensor> Run(const HostTensor& in, std::vector<double>* ms) override {
    if (gate_.valid()) gate_.wait();
    if (ms) ms->assign(end_ - first_, 0.1);
    return in;
  }

 private:
  int first_, end_;
  std::shared_future<void> gate_;
  TensorSpec spec_;
};
}  // namespace

// Two agents under a test controller: epoch 1 is entry [0,1) -> stage2 [1,2), epoch 2 the whole
// model on the entry (loaded, not active). The segments of epoch 1 on `gated` wait for release().
struct TwoStageWorld {
  explicit TwoStageWorld(const char* gated, int request_timeout_ms = 0) : ctl(100) {
    gate = release_.get_future().share();
    entry = Make("entry", std::string(gated) == "entry", request_timeout_ms);
    stage2 = Make("stage2", std::string(gated) == "stage2", request_timeout_ms);
    REQUIRE(ctl.WaitForAgents(2, 30s));
    REQUIRE(ctl.Call("stage2", TestController::Load("d", 1, "x", 1, 2, 2, "", false), 30s)->ok());
    REQUIRE(ctl.Call("entry", TestController::Load("d", 1, "x", 0, 1, 2, stage2->data_address(), true), 30s)->ok());
    REQUIRE(ctl.Call("entry", TestController::Activate("d", 1), 30s)->ok());
    REQUIRE(ctl.Call("entry", TestController::Load("d", 2, "x", 0, 2, 2, "", true), 30s)->ok());
    input = HostTensor::Allocate(DType::kFloat32, {4});
    float* v = reinterpret_cast<float*>(input.data);
    for (int i = 0; i < 4; ++i) v[i] = static_cast<float>(i);
  }
  ~TwoStageWorld() { release(); }
  void release() {
    if (!released_) release_.set_value();
    released_ = true;
  }
  // One request to the entry, answered on another thread.
  std::future<Result<HostTensor>> Send() {
    return std::async(std::launch::async, [this] {
      auto cl = transport::DataClient::Connect(entry->data_address());
      return cl.ok() ? (*cl)->Infer("d", input) : Result<HostTensor>(cl.status());
    });
  }
  static bool WaitQueued(agent::Agent& a) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (a.metrics().queue_depth->Value() < 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    return a.metrics().queue_depth->Value() >= 1;
  }

  TestController ctl;
  std::shared_future<void> gate;
  std::unique_ptr<agent::Agent> entry, stage2;
  HostTensor input;

 private:
  std::unique_ptr<agent::Agent> Make(const char* node, bool gated_epoch1, int request_timeout_ms) {
    agent::AgentConfig c;
    c.tls = testing::PlaintextTls();
    c.node = node;
    c.orchestrator = ctl.address();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = "";
    c.drain_timeout_ms = 100;
    if (request_timeout_ms > 0) c.request_timeout_ms = request_timeout_ms;
    auto a = agent::Agent::Create(c, [g = gate, gated_epoch1](const agent::LoadSpec& s) -> Result<std::shared_ptr<SegmentExecutor>> {
      return std::shared_ptr<SegmentExecutor>(std::make_shared<RangeSegment>(
          s.first_layer, s.end_layer, (gated_epoch1 && s.epoch == 1) ? g : std::shared_future<void>()));
    });
    REQUIRE(a.ok());
    REQUIRE((*a)->Start().ok());
    return std::move(*a);
  }
  std::promise<void> release_;
  bool released_ = false;
};

TEST_CASE("the entry retries a request whose next stage died on the newly committed epoch") {
  TwoStageWorld w("entry");
  auto inflight = w.Send();
  REQUIRE(TwoStageWorld::WaitQueued(*w.entry));
  // The node of stage 2 goes away while the request is inside stage 1; the orchestrator commits
  // epoch 2 (the whole model on the entry).
  w.stage2.reset();
  REQUIRE(w.ctl.Call("entry", TestController::Activate("d", 2), 30s)->ok());
  w.release();
  auto out = inflight.get();
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  CHECK(out->SameBytes(w.input));
}

TEST_CASE("the entry resubmits a request stuck on a replaced epoch that nobody called lost") {
  // A stage node stops answering (connections open, no error ever comes) while a planned
  // rollout is under way: the activation carries no retry_in_flight, yet the request must not
  // wait out its deadline (60 s, far beyond the test) on the dead path.
  TwoStageWorld w("stage2", 60000);
  auto inflight = w.Send();
  REQUIRE(TwoStageWorld::WaitQueued(*w.stage2));  // the request sits in the hung stage
  REQUIRE(w.ctl.Call("entry", TestController::Activate("d", 2), 30s)->ok());
  const bool answered = inflight.wait_for(20s) == std::future_status::ready;
  w.release();  // lets the hung stage finish: its late answer must not matter
  REQUIRE(answered);
  auto out = inflight.get();
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  CHECK(out->SameBytes(w.input));
  CHECK(w.entry->metrics().RetriedCount() == 1);
}

TEST_CASE("the data plane keeps serving while the orchestrator is away and the agent re-registers") {
  auto ctl = std::make_unique<TestController>(100);
  const std::string ctl_addr = ctl->address();
  agent::AgentConfig c;
  c.tls = testing::PlaintextTls();
  c.node = "steady";
  c.orchestrator = ctl_addr;
  c.data_listen = "127.0.0.1:0";
  c.http_listen = "";
  c.reconnect_min_ms = 10;
  c.reconnect_max_ms = 50;
  auto a = agent::Agent::Create(c, [](const agent::LoadSpec& s) -> Result<std::shared_ptr<SegmentExecutor>> {
    return std::shared_ptr<SegmentExecutor>(std::make_shared<RangeSegment>(s.first_layer, s.end_layer, std::shared_future<void>()));
  });
  REQUIRE(a.ok());
  REQUIRE((*a)->Start().ok());
  REQUIRE(ctl->WaitForAgents(1, 30s));
  const uint64_t incarnation = ctl->registration("steady").incarnation();
  REQUIRE(ctl->Call("steady", TestController::Load("d", 1, "x", 0, 1, 1, "", true), 30s)->ok());
  REQUIRE(ctl->Call("steady", TestController::Activate("d", 1), 30s)->ok());
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {4});
  std::fill(t.data, t.data + t.nbytes, std::byte{0});
  auto cl = transport::DataClient::Connect((*a)->data_address());
  REQUIRE(cl.ok());
  REQUIRE((*cl)->Infer("d", t).ok());

  ctl.reset();  // the orchestrator goes away
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((*a)->metrics().control_connected->Value() != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK((*a)->metrics().control_connected->Value() == 0);
  for (int i = 0; i < 5; ++i) REQUIRE((*cl)->Infer("d", t).ok());

  // A new orchestrator on the same address: the agent re-registers (same incarnation) and
  // reports the segment it still serves, so the orchestrator can re-adopt it.
  ctl = std::make_unique<TestController>(100, ctl_addr);
  REQUIRE(ctl->WaitForAgents(1, 30s));
  CHECK(ctl->registration("steady").incarnation() == incarnation);
  CHECK(ctl->registration("steady").capacity().segments_size() == 1);
  CHECK(ctl->registration("steady").capacity().segments(0).active());
  REQUIRE((*cl)->Infer("d", t).ok());
}
