// The agent's HTTP side and its test features: /metrics, /livez, /readyz; emulated compute
// slowdown and egress caps set at start or at runtime (PUT /v1/emulation, only with
// emulation.runtime_api) and seen in the reported layer times and link probes.
#include <sys/socket.h>

#include <catch.hpp>

#include "test/support/test_pki.h"
#include <algorithm>
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
#include "test/agent/daemon/http_call.h"
#include "test/agent/daemon/test_controller.h"

using namespace edgesplit;
using namespace edgesplit::testing;
using namespace std::chrono_literals;
using transport::RejectReason;
namespace asio = boost::asio;


namespace {

class OneMsSegment : public SegmentExecutor {
 public:
  OneMsSegment() {
    spec_.dtype = DType::kFloat32;
    spec_.shape = {4};
  }
  int first_layer() const override { return 0; }
  int end_layer() const override { return 2; }
  const TensorSpec& input_spec() const override { return spec_; }
  const TensorSpec& output_spec() const override { return spec_; }
  Result<HostTensor> Run(const HostTensor& in, std::vector<double>* ms) override {
    if (ms) ms->assign(2, 1.0);
    return in;
  }

 private:
  TensorSpec spec_;
};

// A started agent serving OneMsSegment, reporting to `ctl` every 50 ms.
std::unique_ptr<agent::Agent> StartOneMsAgent(TestController& ctl, agent::AgentConfig c) {
  c.orchestrator = ctl.address();
  c.data_listen = "127.0.0.1:0";
  c.heartbeat_period_ms = 50;
  auto a = agent::Agent::Create(c, [](const agent::LoadSpec&) -> Result<std::shared_ptr<SegmentExecutor>> {
    return std::shared_ptr<SegmentExecutor>(std::make_shared<OneMsSegment>());
  });
  REQUIRE(a.ok());
  REQUIRE((*a)->Start().ok());
  return std::move(*a);
}

}  // namespace

TEST_CASE("emulated compute slowdown stretches the measured layer times reported to the orchestrator") {
  TestController ctl(50);
  agent::AgentConfig c;
  c.tls = testing::PlaintextTls();
  c.node = "slow";
  c.orchestrator = ctl.address();
  c.data_listen = "127.0.0.1:0";
  c.http_listen = "";
  c.emulation.compute_slowdown = 3.0;
  auto a = agent::Agent::Create(c, [](const agent::LoadSpec&) -> Result<std::shared_ptr<SegmentExecutor>> {
    return std::shared_ptr<SegmentExecutor>(std::make_shared<OneMsSegment>());
  });
  REQUIRE(a.ok());
  REQUIRE((*a)->Start().ok());
  REQUIRE(ctl.WaitForAgents(1, 30s));
  CHECK(ctl.registration("slow").capacity().compute_slowdown() == 3.0);
  REQUIRE(ctl.Call("slow", TestController::Load("s", 1, "x", 0, 2, 2, "", true), 30s)->ok());
  REQUIRE(ctl.Call("slow", TestController::Activate("s", 1), 30s)->ok());
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {4});
  std::fill(t.data, t.data + t.nbytes, std::byte{0});
  auto cl = transport::DataClient::Connect((*a)->data_address());
  REQUIRE(cl.ok());
  REQUIRE((*cl)->Infer("s", t).ok());
  // The Activate ack carries the segment stats; re-activating is idempotent.
  auto ack = ctl.Call("slow", TestController::Activate("s", 1), 30s);
  REQUIRE(ack.ok());
  REQUIRE(ack->segment().layer_ms_size() == 2);
  CHECK(ack->segment().layer_ms(0) == Approx(3.0));
  CHECK(ack->segment().requests_total() == 1);
}

TEST_CASE("PUT /v1/emulation changes slowdown and egress at runtime; bad bodies change nothing") {
  TestController ctl(50);
  agent::AgentConfig c;
  c.tls = testing::PlaintextTls();
  c.node = "emu";
  c.emulation.runtime_api = true;
  c.http_listen = "127.0.0.1:0";
  auto a = StartOneMsAgent(ctl, c);
  REQUIRE(ctl.WaitForAgents(1, 30s));
  const std::string http = a->http_address();
  REQUIRE(ctl.Call("emu", TestController::Load("e", 1, "x", 0, 2, 2, "", true), 30s)->ok());
  REQUIRE(ctl.Call("emu", TestController::Activate("e", 1), 30s)->ok());
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {4});
  std::fill(t.data, t.data + t.nbytes, std::byte{0});
  auto cl = transport::DataClient::Connect(a->data_address());
  REQUIRE(cl.ok());
  REQUIRE((*cl)->Infer("e", t).ok());
  auto layer_ms = [&] {
    auto ack = ctl.Call("emu", TestController::Activate("e", 1), 30s);
    REQUIRE(ack.ok());
    REQUIRE(ack->segment().layer_ms_size() == 2);
    return ack->segment().layer_ms(0);
  };
  CHECK(layer_ms() == Approx(1.0));
  // The measured speed before any slowdown (the compute probe runs once a second): the best
  // figure over 4 s of heartbeats, since the start-up probes on a busy box may read slow.
  double speed_before = 0;
  for (auto until = std::chrono::steady_clock::now() + 4s; std::chrono::steady_clock::now() < until;) {
    speed_before = std::max(speed_before, ctl.last_heartbeat("emu").capacity().speed_factor());
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(speed_before > 0);

  int status = 0;
  std::string body = HttpGet(http, "/v1/emulation", &status);
  CHECK(status == 200);
  CHECK(body.find(R"({"compute_slowdown":1,"egress_mbps":0})") != std::string::npos);

  // Bad bodies: 400 with a JSON error, nothing changed, counted.
  for (const char* bad : {"{\"compute_slowdown\": 0.5}", "{\"egress_mbps\": -1}", "not json",
                          "{\"compute_slowdown\": 3, \"bogus\": 1}"}) {
    INFO(bad);
    body = HttpCall("PUT", http, "/v1/emulation", bad, &status);
    CHECK(status == 400);
    CHECK(body.find("\"error\"") != std::string::npos);
  }
  CHECK(a->metrics().EmulationUpdates(false) == 4);
  body = HttpGet(http, "/v1/emulation", &status);
  CHECK(body.find(R"({"compute_slowdown":1,"egress_mbps":0})") != std::string::npos);
  HttpCall("POST", http, "/v1/emulation", "{}", &status);
  CHECK(status == 405);

  // Either key alone; the other keeps its value.
  body = HttpCall("PUT", http, "/v1/emulation", R"({"compute_slowdown": 3})", &status);
  CHECK(status == 200);
  CHECK(body.find(R"({"compute_slowdown":3,"egress_mbps":0})") != std::string::npos);
  body = HttpCall("PUT", http, "/v1/emulation", R"({"egress_mbps": 8})", &status);
  CHECK(status == 200);
  CHECK(body.find(R"({"compute_slowdown":3,"egress_mbps":8})") != std::string::npos);
  CHECK(a->metrics().EmulationUpdates(true) == 2);

  // Subsequent compute is stretched; nothing resets the measurement window (the agent finds the
  // fault by measuring it): the median follows after kShiftRuns runs at the new level.
  for (size_t i = 0; i < agent::SegmentSlot::kShiftRuns; ++i) REQUIRE((*cl)->Infer("e", t).ok());
  CHECK(layer_ms() == Approx(3.0));
  // Heartbeats report the new emulation for display, and the measured speed factor (the compute
  // probe, stretched like the layers) falls to about a third (bounded wait).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  v1::Heartbeat hb;
  do {
    hb = ctl.last_heartbeat("emu");
    if (hb.capacity().compute_slowdown() == 3.0 && hb.capacity().egress_mbps() == 8.0 &&
        hb.capacity().speed_factor() > 0 && hb.capacity().speed_factor() < speed_before / 2)
      break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  CHECK(hb.capacity().compute_slowdown() == 3.0);
  CHECK(hb.capacity().egress_mbps() == 8.0);
  CHECK(hb.capacity().speed_factor() < speed_before / 2);
  CHECK(hb.capacity().speed_factor() > speed_before / 30);  // a measurement (noisy on a busy box), not 0

  // Back to normal: the window moves back after kShiftRuns runs.
  body = HttpCall("PUT", http, "/v1/emulation", R"({"compute_slowdown": 1, "egress_mbps": 0})", &status);
  CHECK(status == 200);
  for (size_t i = 0; i < agent::SegmentSlot::kShiftRuns; ++i) REQUIRE((*cl)->Infer("e", t).ok());
  CHECK(layer_ms() == Approx(1.0));
  body = HttpGet(http, "/metrics", &status);
  CHECK(body.find("edgesplit_agent_emulation_updates_total{outcome=\"applied\"} 3") != std::string::npos);
}

TEST_CASE("an egress cap set at runtime paces link probes") {
  TestController ctl(100);
  auto make = [&](const char* node, const char* http) {
    agent::AgentConfig c;
    c.tls = testing::PlaintextTls();
    c.node = node;
    c.emulation.runtime_api = true;
    c.orchestrator = ctl.address();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = http;
    auto a = agent::Agent::Create(c, [](const agent::LoadSpec&) -> Result<std::shared_ptr<SegmentExecutor>> {
      return std::shared_ptr<SegmentExecutor>(std::make_shared<OneMsSegment>());
    });
    REQUIRE(a.ok());
    REQUIRE((*a)->Start().ok());
    return std::move(*a);
  };
  auto sender = make("tx", "127.0.0.1:0");
  auto receiver = make("rx", "");
  REQUIRE(ctl.WaitForAgents(2, 30s));
  int status = 0;
  HttpCall("PUT", sender->http_address(), "/v1/emulation", R"({"egress_mbps": 8})", &status);
  REQUIRE(status == 200);
  v1::Command cmd;
  auto* p = cmd.mutable_probe()->add_peers();
  p->set_node("rx");
  p->set_data_address(receiver->data_address());
  cmd.mutable_probe()->set_probe_bytes(256 << 10);
  auto ack = ctl.Call("tx", cmd, 60s);
  REQUIRE(ack.ok());
  REQUIRE(ack->links_size() == 1);
  REQUIRE(ack->links(0).error().empty());
  // 256 KiB at 8 Mbit/s: the bucket's 64 KiB burst, the rest paced. One-sided: a token bucket can
  // only make the link slower (loopback without the cap runs at thousands of Mbit/s).
  CHECK(ack->links(0).bandwidth_mbps() < 20.0);
}

TEST_CASE("link probes run over the data port and go through the emulated egress cap") {
  TestController ctl(100);
  auto make = [&](const char* node, double egress) {
    agent::AgentConfig c;
    c.tls = testing::PlaintextTls();
    c.node = node;
    c.orchestrator = ctl.address();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = "";
    c.emulation.egress_mbps = egress;
    auto a = agent::Agent::Create(c, [](const agent::LoadSpec&) -> Result<std::shared_ptr<SegmentExecutor>> {
      return NotFound("no models");
    });
    REQUIRE(a.ok());
    REQUIRE((*a)->Start().ok());
    return std::move(*a);
  };
  auto capped = make("capped", 80);
  auto plain = make("plain", 0);
  REQUIRE(ctl.WaitForAgents(2, 30s));
  auto probe = [&](const std::string& from, const std::string& to_addr) {
    v1::Command cmd;
    auto* p = cmd.mutable_probe()->add_peers();
    p->set_node("peer");
    p->set_data_address(to_addr);
    cmd.mutable_probe()->set_probe_bytes(2 << 20);
    auto ack = ctl.Call(from, cmd, 60s);
    REQUIRE(ack.ok());
    REQUIRE(ack->links_size() == 1);
    REQUIRE(ack->links(0).error().empty());
    return ack->links(0);
  };
  auto c = probe("capped", plain->data_address());
  auto u = probe("plain", capped->data_address());
  INFO("capped " << c.bandwidth_mbps() << " Mbit/s, uncapped " << u.bandwidth_mbps() << " Mbit/s");
  CHECK(c.rtt_ms() > 0);
  // One-sided: a token bucket can only make the link slower than 80 Mbit/s (plus its burst),
  // however loaded the machine is.
  CHECK(c.bandwidth_mbps() < 120);
  // The last measurements are reported in heartbeats.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (ctl.last_heartbeat("capped").capacity().links_size() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CHECK(ctl.last_heartbeat("capped").capacity().links_size() == 1);
  CHECK(ctl.last_heartbeat("capped").capacity().egress_mbps() == 80);
}


TEST_CASE("PUT /v1/emulation is refused unless emulation.runtime_api is on") {
  TestController ctl(50);
  agent::AgentConfig c;
  c.tls = testing::PlaintextTls();
  c.node = "locked";
  c.http_listen = "127.0.0.1:0";
  auto a = StartOneMsAgent(ctl, c);
  const std::string http = a->http_address();
  int status = 0;
  std::string body = HttpCall("PUT", http, "/v1/emulation", R"({"compute_slowdown": 3})", &status);
  CHECK(status == 403);
  CHECK(body.find("emulation.runtime_api") != std::string::npos);
  body = HttpGet(http, "/v1/emulation", &status);
  CHECK(status == 200);
  CHECK(body.find("\"compute_slowdown\":1") != std::string::npos);
  a->Shutdown();
}
