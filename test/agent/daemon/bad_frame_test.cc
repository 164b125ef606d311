// Bad frames close their connection with a counted reason; the agent stays up and serves others.
// Also: a peer disconnecting mid-frame, a burst of connections, and "overloaded" reaching the
// client when the compute queue is full. One in-process agent with a real (tiny) GPT segment.
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

struct Fixture {
  std::string models;
  Manifest manifest;
  TestController ctl{100};
  std::unique_ptr<agent::Agent> agent;
  HostTensor input;

  Fixture() {
    ConfigureTorch({1, 1});
    const char* t = std::getenv("ES_TEST_TMP");
    models = std::string(t ? t : "/tmp") + "/agent_bad_frame_" + std::to_string(getpid());
    std::filesystem::create_directories(models);
    GptSynthOptions go;
    go.name = "tiny";
    go.layers = 1;
    go.d_model = 32;
    go.heads = 2;
    go.vocab = 50;
    go.seq = 8;
    REQUIRE(SynthesizeGpt(go, models + "/tiny").ok());
    manifest = *LoadManifest(models + "/tiny");
    input = MakeExampleInput(manifest, 1, go.vocab);
    agent::AgentConfig c;
    c.tls = testing::PlaintextTls();
    c.node = "solo";
    c.orchestrator = ctl.address();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = "127.0.0.1:0";
    c.models_dir = models;
    c.max_frame_bytes = 1 << 20;
    c.heartbeat_period_ms = 100;
    auto a = agent::Agent::Create(c);
    REQUIRE(a.ok());
    agent = std::move(*a);
    REQUIRE(agent->Start().ok());
    REQUIRE(ctl.WaitForAgents(1, 30s));
    const int L = manifest.num_layers();
    auto ack = ctl.Call("solo", TestController::Load("m", 1, "tiny", 0, L, L, "", true), 60s);
    REQUIRE(ack.ok());
    REQUIRE(ack->ok());
    REQUIRE(ctl.Call("solo", TestController::Activate("m", 1), 10s)->ok());
  }
  ~Fixture() {
    agent.reset();
    std::filesystem::remove_all(models);
  }

  // Sends raw bytes on a fresh connection and waits (bounded) for the agent to close it.
  bool SentBytesCloseConnection(const std::string& bytes, bool half_close = false) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    auto ep = net::ResolveEndpoint(agent->data_address());
    s.connect(*ep);
    timeval tv{10, 0};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    asio::write(s, asio::buffer(bytes));
    if (half_close) s.shutdown(asio::ip::tcp::socket::shutdown_send);
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      s.read_some(asio::buffer(buf), ec);  // an error frame may come first
      if (ec) return ec == asio::error::eof || ec == asio::error::connection_reset;
    }
  }

  double Rejected(RejectReason r) { return agent->metrics().RejectedCount(r); }

  void StillServes() {
    auto c = transport::DataClient::Connect(agent->data_address());
    REQUIRE(c.ok());
    auto out = (*c)->Infer("m", input);
    REQUIRE(out.ok());
  }
};

std::string Frame(const v1::FrameMeta& meta, uint64_t payload_len, const std::string& payload,
                  uint32_t magic = transport::kFrameMagic) {
  std::string m = meta.SerializeAsString();
  std::array<uint8_t, transport::kFrameHeaderBytes> h{};
  transport::EncodeFrameHeader({static_cast<uint32_t>(m.size()), payload_len}, h.data());
  if (magic != transport::kFrameMagic) h[0] = static_cast<uint8_t>(magic >> 24);
  return std::string(reinterpret_cast<char*>(h.data()), h.size()) + m + payload;
}

v1::FrameMeta RequestMeta(const HostTensor& t) {
  v1::FrameMeta m;
  m.set_kind(v1::FRAME_REQUEST);
  m.set_request_id(1);
  m.set_deployment("m");
  m.set_dtype(static_cast<uint32_t>(t.dtype));
  for (auto d : t.shape) m.add_shape(d);
  return m;
}

std::string Bytes(const HostTensor& t) { return std::string(reinterpret_cast<const char*>(t.data), t.nbytes); }

}  // namespace

TEST_CASE("each bad frame closes its connection with a counted reason and the agent stays up") {
  Fixture f;
  const v1::FrameMeta good = RequestMeta(f.input);
  const std::string payload = Bytes(f.input);

  struct Case {
    const char* name;
    RejectReason reason;
    std::string bytes;
  };
  std::vector<Case> cases;
  cases.push_back({"bad magic", RejectReason::kBadMagic, Frame(good, payload.size(), payload, 0x47455420u)});
  {
    std::string b = Frame(good, payload.size(), payload);
    b[5] = 7;  // version 7
    cases.push_back({"bad version", RejectReason::kBadVersion, b});
  }
  cases.push_back({"over the frame limit", RejectReason::kTooLarge, Frame(good, 64ull << 20, "")});
  {
    std::string b = Frame(good, payload.size(), payload);
    // Corrupt the metadata into an invalid protobuf (field 0 is illegal).
    b[transport::kFrameHeaderBytes] = 0x00;
    cases.push_back({"unparseable metadata", RejectReason::kBadMeta, b});
  }
  {
    v1::FrameMeta m = good;
    m.set_dtype(42);
    cases.push_back({"unknown dtype", RejectReason::kUnknownDtype, Frame(m, payload.size(), payload)});
  }
  {
    v1::FrameMeta m = good;
    m.clear_shape();
    for (int i = 0; i < 9; ++i) m.add_shape(1);
    cases.push_back({"rank over 8", RejectReason::kBadRank, Frame(m, 8, std::string(8, '\0'))});
  }
  {
    v1::FrameMeta m = good;
    m.set_shape(0, -1);
    cases.push_back({"negative dim", RejectReason::kBadDims, Frame(m, payload.size(), payload)});
  }
  {
    v1::FrameMeta m = good;
    m.set_shape(0, 0);
    cases.push_back({"zero dim", RejectReason::kBadDims, Frame(m, 0, "")});
  }
  cases.push_back({"byte count mismatch", RejectReason::kByteCountMismatch, Frame(good, payload.size() - 8, payload.substr(8))});
  {
    v1::FrameMeta m = good;
    // A valid tensor the segment cannot take: batch 2 (the sequence dimension may vary up to the
    // model's context, the batch may not).
    m.set_shape(0, 2);
    cases.push_back({"shape differs from the segment's input", RejectReason::kSpecMismatch,
                     Frame(m, payload.size() * 2, payload + payload)});
  }
  {
    v1::FrameMeta m = good;
    m.set_dtype(static_cast<uint32_t>(DType::kInt32));
    const size_t n = payload.size() / 2;
    cases.push_back({"dtype differs from the segment's input", RejectReason::kSpecMismatch, Frame(m, n, payload.substr(0, n))});
  }
  {
    v1::FrameMeta m = good;
    m.set_epoch(99);
    cases.push_back({"unknown epoch", RejectReason::kUnknownEpoch, Frame(m, payload.size(), payload)});
  }
  {
    v1::FrameMeta m = good;
    m.set_kind(v1::FRAME_ACTIVATION);
    m.set_epoch(5);
    cases.push_back({"activation for an unknown epoch", RejectReason::kUnknownEpoch, Frame(m, payload.size(), payload)});
  }
  for (const auto& c : cases) {
    INFO(c.name);
    const double before = f.Rejected(c.reason);
    CHECK(f.SentBytesCloseConnection(c.bytes));
    // The counter is bumped before the connection is closed.
    CHECK(f.Rejected(c.reason) == before + 1);
    f.StillServes();
  }
}

TEST_CASE("a peer disconnecting mid-frame is counted as truncated and harms nobody") {
  Fixture f;
  auto other = transport::DataClient::Connect(f.agent->data_address());
  REQUIRE(other.ok());
  const std::string full = Frame(RequestMeta(f.input), f.input.nbytes, Bytes(f.input));
  for (size_t cut : {size_t{3}, transport::kFrameHeaderBytes + 2, full.size() - 5}) {
    INFO("cut at " << cut);
    const double before = f.Rejected(RejectReason::kTruncated);
    CHECK(f.SentBytesCloseConnection(full.substr(0, cut), /*half_close=*/true));
    CHECK(f.Rejected(RejectReason::kTruncated) == before + 1);
    REQUIRE((*other)->Infer("m", f.input).ok());
  }
}

TEST_CASE("a burst of connections is served") {
  Fixture f;
  auto expected = (*transport::DataClient::Connect(f.agent->data_address()))->Infer("m", f.input);
  REQUIRE(expected.ok());
  constexpr int kClients = 48;
  std::vector<std::future<bool>> results;
  for (int i = 0; i < kClients; ++i) {
    results.push_back(std::async(std::launch::async, [&] {
      auto c = transport::DataClient::Connect(f.agent->data_address());
      if (!c.ok()) return false;
      auto out = (*c)->Infer("m", f.input);
      // With 48 concurrent requests and max_queue 64 nobody is refused.
      return out.ok() && out->SameBytes(*expected);
    }));
  }
  int ok = 0;
  for (auto& r : results) ok += r.get() ? 1 : 0;
  CHECK(ok == kClients);
  f.StillServes();
}

namespace {

// A segment whose Run blocks until released: makes the compute queue full deterministically.
class GateSegment : public SegmentExecutor {
 public:
  explicit GateSegment(std::shared_future<void> gate) : gate_(std::move(gate)) {
    spec_.dtype = DType::kFloat32;
    spec_.shape = {4};
  }
  int first_layer() const override { return 0; }
  int end_layer() const override { return 1; }
  const TensorSpec& input_spec() const override { return spec_; }
  const TensorSpec& output_spec() const override { return spec_; }
  Result<HostTensor> Run(const HostTensor& in, std::vector<double>* ms) override {
    gate_.wait();
    if (ms) ms->assign(1, 0.1);
    return in;
  }

 private:
  std::shared_future<void> gate_;
  TensorSpec spec_;
};
}  // namespace

TEST_CASE("a full compute queue refuses work with overloaded, which reaches the client") {
  TestController ctl(100);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  agent::AgentConfig c;
  c.tls = testing::PlaintextTls();
  c.node = "busy";
  c.orchestrator = ctl.address();
  c.data_listen = "127.0.0.1:0";
  c.http_listen = "";
  c.max_queue = 1;
  auto a = agent::Agent::Create(c, [gate](const agent::LoadSpec&) -> Result<std::shared_ptr<SegmentExecutor>> {
    return std::shared_ptr<SegmentExecutor>(std::make_shared<GateSegment>(gate));
  });
  REQUIRE(a.ok());
  REQUIRE((*a)->Start().ok());
  REQUIRE(ctl.WaitForAgents(1, 30s));
  REQUIRE(ctl.Call("busy", TestController::Load("g", 1, "gate", 0, 1, 1, "", true), 30s)->ok());
  REQUIRE(ctl.Call("busy", TestController::Activate("g", 1), 30s)->ok());
  HostTensor t = HostTensor::Allocate(DType::kFloat32, {4});
  std::fill(t.data, t.data + t.nbytes, std::byte{0});
  auto first = std::async(std::launch::async, [&] {
    auto cl = transport::DataClient::Connect((*a)->data_address());
    return cl.ok() ? (*cl)->Infer("g", t).status() : cl.status();
  });
  // Wait until the first request occupies the queue (queue_depth gauge), bounded.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while ((*a)->metrics().queue_depth->Value() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  auto cl = transport::DataClient::Connect((*a)->data_address());
  REQUIRE(cl.ok());
  auto second = (*cl)->Infer("g", t);
  CHECK(second.status().code() == StatusCode::kResourceExhausted);
  CHECK(second.status().message().find("overloaded") != std::string::npos);
  release.set_value();
  CHECK(first.get().ok());
  CHECK((*cl)->Infer("g", t).ok());
}

namespace {

std::string HttpCall(const std::string& method, const std::string& address, const std::string& path,
                     const std::string& body, int* status) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  s.connect(*net::ResolveEndpoint(address));
  timeval tv{10, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                          (body.empty() && method == "GET" ? std::string()
                                                           : "Content-Type: application/json\r\nContent-Length: " +
                                                                 std::to_string(body.size()) + "\r\n") +
                          "\r\n" + body;
  asio::write(s, asio::buffer(req));
  std::string resp;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    const size_t n = s.read_some(asio::buffer(buf), ec);
    resp.append(buf, n);
  }
  *status = resp.size() > 12 ? std::atoi(resp.substr(9, 3).c_str()) : 0;
  return resp;
}

std::string HttpGet(const std::string& address, const std::string& path, int* status) {
  return HttpCall("GET", address, path, "", status);
}

// Reports 1 ms per layer whatever the real time: the emulated slowdown must scale it.
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

TEST_CASE("metrics, liveness and readiness are served over HTTP") {
  Fixture f;
  f.StillServes();
  int status = 0;
  std::string body = HttpGet(f.agent->http_address(), "/metrics", &status);
  CHECK(status == 200);
  CHECK(body.find("edgesplit_agent_frames_in_total{kind=\"request\"}") != std::string::npos);
  CHECK(body.find("edgesplit_agent_rejected_frames_total{reason=\"bad_magic\"}") != std::string::npos);
  CHECK(body.find("edgesplit_agent_compute_seconds_bucket") != std::string::npos);
  CHECK(body.find("edgesplit_agent_segments_loaded 1") != std::string::npos);
  HttpGet(f.agent->http_address(), "/livez", &status);
  CHECK(status == 200);
  HttpGet(f.agent->http_address(), "/readyz", &status);
  CHECK(status == 200);
}

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

  // Subsequent compute is stretched, and the window restarted: the median is the new reality.
  REQUIRE((*cl)->Infer("e", t).ok());
  CHECK(layer_ms() == Approx(3.0));
  // Heartbeats report the new emulation (bounded wait for one sent after the change).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  v1::Heartbeat hb;
  do {
    hb = ctl.last_heartbeat("emu");
    if (hb.capacity().compute_slowdown() == 3.0 && hb.capacity().egress_mbps() == 8.0) break;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  CHECK(hb.capacity().compute_slowdown() == 3.0);
  CHECK(hb.capacity().egress_mbps() == 8.0);
  CHECK(hb.capacity().speed_factor() == Approx(1.0 / 3.0));

  // Back to normal.
  body = HttpCall("PUT", http, "/v1/emulation", R"({"compute_slowdown": 1, "egress_mbps": 0})", &status);
  CHECK(status == 200);
  REQUIRE((*cl)->Infer("e", t).ok());
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

TEST_CASE("the entry retries a request whose next stage died on the newly committed epoch") {
  TestController ctl(100);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  auto make = [&](const char* node, bool gated_epoch1) {
    agent::AgentConfig c;
    c.tls = testing::PlaintextTls();
    c.node = node;
    c.orchestrator = ctl.address();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = "";
    c.drain_timeout_ms = 100;
    auto a = agent::Agent::Create(c, [gate, gated_epoch1](const agent::LoadSpec& s) -> Result<std::shared_ptr<SegmentExecutor>> {
      std::shared_future<void> g = (gated_epoch1 && s.epoch == 1) ? gate : std::shared_future<void>();
      return std::shared_ptr<SegmentExecutor>(std::make_shared<RangeSegment>(s.first_layer, s.end_layer, g));
    });
    REQUIRE(a.ok());
    REQUIRE((*a)->Start().ok());
    return std::move(*a);
  };
  auto entry = make("entry", true);
  auto stage2 = make("stage2", false);
  REQUIRE(ctl.WaitForAgents(2, 30s));
  REQUIRE(ctl.Call("stage2", TestController::Load("d", 1, "x", 1, 2, 2, "", false), 30s)->ok());
  REQUIRE(ctl.Call("entry", TestController::Load("d", 1, "x", 0, 1, 2, stage2->data_address(), true), 30s)->ok());
  REQUIRE(ctl.Call("entry", TestController::Activate("d", 1), 30s)->ok());
  REQUIRE(ctl.Call("entry", TestController::Load("d", 2, "x", 0, 2, 2, "", true), 30s)->ok());

  HostTensor t = HostTensor::Allocate(DType::kFloat32, {4});
  float* v = reinterpret_cast<float*>(t.data);
  for (int i = 0; i < 4; ++i) v[i] = static_cast<float>(i);
  auto inflight = std::async(std::launch::async, [&] {
    auto cl = transport::DataClient::Connect(entry->data_address());
    return cl.ok() ? (*cl)->Infer("d", t) : Result<HostTensor>(cl.status());
  });
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (entry->metrics().queue_depth->Value() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  // The node of stage 2 goes away while the request is inside stage 1; the orchestrator commits
  // epoch 2 (the whole model on the entry).
  stage2.reset();
  REQUIRE(ctl.Call("entry", TestController::Activate("d", 2), 30s)->ok());
  release.set_value();
  auto out = inflight.get();
  INFO(out.status().ToString());
  REQUIRE(out.ok());
  CHECK(out->SameBytes(t));
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
