// Bad frames close their connection with a counted reason; the agent stays up and serves others.
// Also: a peer disconnecting mid-frame, a burst of connections, "overloaded" reaching the client when
// the compute queue is full, and /metrics, /livez, /readyz. One in-process agent, a real tiny GPT segment.
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
#include "test/agent/daemon/http_call.h"
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
