// Issue 13's attacks against a real site with mutual TLS (orchestrator + three agents as
// processes on loopback, a 3-stage deployment entry n1 -> n2 -> n3), each now refused:
//   an impostor registering under a node's name, a plaintext connection to the TLS control and
//   data ports, a data client without a client certificate, forged RESULT frames (from a node
//   outside the epoch and from a stage that is not the last), an activation injected into a
//   stage, and a revoked client certificate. Legitimate traffic keeps working throughout.
#include <catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <cstring>
#include <map>

#include "agent/transport/client.h"
#include "agent/transport/frame_io.h"
#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"
#include "orchestrator/api/rest_client.h"
#include "test/agent/daemon/subprocess.h"
#include "test/support/test_pki.h"

using namespace edgesplit;
using namespace std::chrono_literals;
using security::Role;
namespace asio = boost::asio;

namespace {

std::string Env(const char* k, const char* def) {
  const char* v = std::getenv(k);
  return v && *v ? v : def;
}

uint16_t FreePort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::string Get(const std::string& http, const std::string& path) {
  orch::RestClient c(http, "", 5s);
  auto r = c.Call("GET", path);
  return r.ok() ? r->body : "";
}

// The counter value in a Prometheus text line `name{labels} value`, 0 when absent.
double Metric(const std::string& text, const std::string& series) {
  auto at = text.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::atof(text.c_str() + at + series.size() + 2);
}

template <typename F>
bool WaitFor(F pred, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

template <typename T>
T RunCoro(net::Awaitable<T> coro) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, [&]() -> net::Awaitable<void> { out.emplace(co_await std::move(coro)); }, asio::detached);
  io.run_for(15s);
  REQUIRE(out.has_value());
  return std::move(*out);
}

// Registers as `claimed` over TLS with `tls`; returns the orchestrator's answer (accepted or why not).
net::Awaitable<Result<v1::RegisterAck>> RegisterAs(std::string control, security::TlsPtr tls, std::string claimed) {
  auto s = co_await net::Connect(control, 5s, tls);
  if (!s.ok()) co_return s.status();
  v1::AgentToOrchestrator m;
  m.mutable_register_()->set_node(claimed);
  m.mutable_register_()->set_data_address("127.0.0.1:9");
  m.mutable_register_()->set_incarnation(~uint64_t{0});  // "newest" of all
  Status w = co_await net::WriteMessage(*s, m, 5s);
  if (!w.ok()) co_return w;
  v1::OrchestratorToAgent reply;
  Status r = co_await net::ReadMessage(*s, &reply, 5s);
  if (!r.ok()) co_return r;
  co_return reply.register_ack();
}

// Sends `n` copies of `f` to `address` as the holder of `tls`; true if the agent closed the
// connection (refused) instead of carrying on.
net::Awaitable<bool> SendFramesRefused(std::string address, security::TlsPtr tls, transport::Frame f, int n) {
  auto s = co_await net::Connect(address, 5s, tls);
  if (!s.ok()) co_return true;
  for (int i = 0; i < n; ++i) {
    f.request_id = 1000 + static_cast<uint64_t>(i);
    if (!(co_await transport::WriteFrame(*s, f, 2s)).ok()) co_return true;
  }
  char b = 0;
  size_t got = 0;
  Status r = co_await net::ReadExactly(*s, asio::buffer(&b, 1), 3s, &got);
  co_return !r.ok() && r.code() != StatusCode::kDeadlineExceeded;
}

struct Site {
  std::string dir, bin, ctl, control, http;
  std::vector<std::unique_ptr<testing::Subprocess>> procs;
  std::map<std::string, std::string> agent_http, agent_data;
  testing::TestPki& pki = testing::TestPki::Get();

  std::vector<std::string> Tls(const std::string& name, Role role) {
    auto c = pki.Config(name, role);
    return {"--tls-ca", c.ca, "--tls-cert", c.cert, "--tls-key", c.key};
  }
  int Ctl(const std::string& args) {
    return std::system((ctl + " " + args + " --addr " + http + " >>" + dir + "/ctl.log 2>&1").c_str());
  }
};

}  // namespace

TEST_CASE("attacks on a TLS site are refused and legitimate traffic is unaffected") {
  Site site;
  site.dir = Env("ES_TEST_TMP", "/tmp") + "/tls-attacks";
  std::filesystem::remove_all(site.dir);
  std::filesystem::create_directories(site.dir + "/models");
  site.bin = Env("ES_BIN_DIR", "build/bin");
  site.ctl = site.bin + "/edgesplitctl";
  REQUIRE(std::system((site.ctl + " model synth --family gpt --layers 3 --d-model 32 --heads 2 --vocab 50 --seq 8 --seed 5 --out " +
                       site.dir + "/models/tiny >/dev/null").c_str()) == 0);
  const uint16_t cp = FreePort(), hp = FreePort();
  site.control = "127.0.0.1:" + std::to_string(cp);
  site.http = "127.0.0.1:" + std::to_string(hp);
  std::vector<std::string> oargs = {"--control-listen", site.control, "--http-listen", site.http, "--models-dir",
                                    site.dir + "/models", "--state-dir", "", "--heartbeat-period-ms", "100",
                                    "--set", "trusted_nodes=n1"};
  for (auto& a : site.Tls("orchestrator", Role::kOrchestrator)) oargs.push_back(a);
  site.procs.push_back(std::make_unique<testing::Subprocess>(site.bin + "/edgesplit-orchestrator", oargs, site.dir + "/orch.log"));
  REQUIRE(WaitFor([&] { return !Get(site.http, "/readyz").empty(); }, 20s));
  for (const char* n : {"n1", "n2", "n3"}) {
    const std::string data = "127.0.0.1:" + std::to_string(FreePort()), http = "127.0.0.1:" + std::to_string(FreePort());
    site.agent_data[n] = data;
    site.agent_http[n] = http;
    std::vector<std::string> a = {"--node", n, "--orchestrator", site.control, "--data-listen", data, "--http-listen", http,
                                  "--models-dir", site.dir + "/models", "--heartbeat-period-ms", "100",
                                  // Compute the planner sees as dear (measured: the probes are
                                  // stretched too), so the period objective uses all three nodes.
                                  "--compute-slowdown", "5"};
    for (auto& x : site.Tls(n, Role::kAgent)) a.push_back(x);
    if (std::string(n) == "n1") a.insert(a.end(), {"--tls-revoked", "revoked-client"});
    site.procs.push_back(std::make_unique<testing::Subprocess>(site.bin + "/edgesplit-agent", a, site.dir + "/" + n + ".log"));
  }
  auto alive = [&] {
    const std::string nodes = Get(site.http, "/v1/nodes");
    size_t k = 0, pos = 0;
    while ((pos = nodes.find("\"state\":\"alive\"", pos)) != std::string::npos) ++k, ++pos;
    return k == 3;
  };
  REQUIRE(WaitFor(alive, 30s));
  REQUIRE(site.Ctl("deploy --name d --model tiny --entry n1 --max-stages 3 --objective period --wait-s 60") == 0);
  const std::string dep = Get(site.http, "/v1/deployments/d");
  std::smatch m;
  REQUIRE(std::regex_search(dep, m, std::regex("\"epoch\":([0-9]+)")));
  const uint64_t epoch = std::stoull(m[1]);
  INFO("deployment: " << dep);
  // The stages in order (n2 and n3 are equally fast: measured speeds decide which is last).
  std::vector<std::string> chain;
  const std::regex stage_re("\"node\":\"(n[0-9])\",\"address\":\"[^\"]*\",\"first_layer\":([0-9]+)");
  std::vector<int> firsts;
  for (auto it = std::sregex_iterator(dep.begin(), dep.end(), stage_re); it != std::sregex_iterator(); ++it) {
    chain.push_back((*it)[1]);
    firsts.push_back(std::stoi((*it)[2]));
  }
  REQUIRE(chain.size() == 3);
  REQUIRE(chain[0] == "n1");
  const std::string middle = chain[1], last_node = chain[2];

  HostTensor input = HostTensor::Allocate(DType::kInt64, {1, 8});
  for (int i = 0; i < 8; ++i) reinterpret_cast<int64_t*>(input.data)[i] = i + 1;
  transport::ClientOptions legit;
  legit.tls = site.pki.Context("alice", Role::kClient);
  legit.expect_node = "n1";
  auto alice = transport::DataClient::Connect(site.agent_data["n1"], legit);
  REQUIRE(alice.ok());
  auto expected = (*alice)->Infer("d", input);
  REQUIRE(expected.ok());

  {  // an impostor cannot register under another node's name, nor evict it
    const std::string before = Get(site.http, "/v1/nodes/n1");
    auto r = RunCoro(RegisterAs(site.control, site.pki.Context("mallory", Role::kAgent), "n1"));
    REQUIRE(r.ok());
    CHECK_FALSE(r->accepted());
    CHECK(r->error().find("certificate is for 'mallory'") != std::string::npos);
    const std::string metrics = Get(site.http, "/metrics");
    CHECK(Metric(metrics, "edgesplit_orchestrator_control_refused_total{reason=\"name_mismatch\"}") >= 1);
    std::this_thread::sleep_for(500ms);
    const std::string after = Get(site.http, "/v1/nodes/n1");
    CHECK(after.find(site.agent_data["n1"]) != std::string::npos);
    CHECK(after.find("\"state\":\"alive\"") != std::string::npos);
    CHECK(before.find("\"incarnation\"") != std::string::npos);
  }

  {  // plaintext connections to the TLS control and data ports are refused
    auto r = RunCoro(RegisterAs(site.control, nullptr, "n9"));
    CHECK_FALSE(r.ok());
    transport::ClientOptions plain;
    auto c = transport::DataClient::Connect(site.agent_data["n1"], plain);
    if (c.ok()) CHECK_FALSE((*c)->Infer("d", input).ok());
    CHECK(WaitFor([&] { return Metric(Get(site.http, "/metrics"), "edgesplit_orchestrator_control_refused_total{reason=\"handshake\"}") >= 1; }, 5s));
    CHECK(WaitFor([&] { return Metric(Get(site.agent_http["n1"], "/metrics"), "edgesplit_agent_tls_refused_total{reason=\"handshake\"}") >= 1; }, 5s));
  }

  {  // client requests need a client certificate: an agent's certificate is not one
    transport::ClientOptions as_agent;
    as_agent.tls = site.pki.Context("mallory", Role::kAgent);
    auto c = transport::DataClient::Connect(site.agent_data["n1"], as_agent);
    REQUIRE(c.ok());
    CHECK_FALSE((*c)->Infer("d", input).ok());
    CHECK(Metric(Get(site.agent_http["n1"], "/metrics"), "edgesplit_agent_rejected_frames_total{reason=\"unauthorized\"}") >= 1);
  }

  {  // forged answers and injected activations are refused; real answers still arrive
    transport::Frame forged;
    forged.kind = transport::FrameKind::kResult;
    forged.deployment = "d";
    forged.epoch = epoch;
    forged.layer = 3;
    forged.has_tensor = true;
    forged.tensor = HostTensor::Allocate(DType::kFloat32, {1, 8, 50});
    const double before = Metric(Get(site.agent_http["n1"], "/metrics"), "edgesplit_agent_rejected_frames_total{reason=\"unauthorized\"}");
    // From a node outside the epoch, and from a real stage that is not the last (its certificate).
    CHECK(RunCoro(SendFramesRefused(site.agent_data["n1"], site.pki.Context("mallory", Role::kAgent), forged, 50)));
    CHECK(RunCoro(SendFramesRefused(site.agent_data["n1"], site.pki.Context(middle, Role::kAgent), forged, 50)));
    // An activation into the last stage from anyone but its upstream stage.
    transport::Frame act = forged;
    act.kind = transport::FrameKind::kActivation;
    act.tensor = HostTensor::Allocate(DType::kFloat32, {1, 8, 32});
    act.layer = firsts[2];
    CHECK(RunCoro(SendFramesRefused(site.agent_data[last_node], site.pki.Context("n1", Role::kAgent), act, 5)));
    const double after = Metric(Get(site.agent_http["n1"], "/metrics"), "edgesplit_agent_rejected_frames_total{reason=\"unauthorized\"}");
    CHECK(after >= before + 2);
    CHECK(Metric(Get(site.agent_http[last_node], "/metrics"), "edgesplit_agent_rejected_frames_total{reason=\"unauthorized\"}") >= 1);
    for (int i = 0; i < 10; ++i) {
      auto out = (*alice)->Infer("d", input);
      REQUIRE(out.ok());
      CHECK(std::memcmp(out->data, expected->data, expected->nbytes) == 0);
    }
  }

  {  // a revoked client certificate is refused at the handshake
    transport::ClientOptions revoked;
    revoked.tls = site.pki.Context("revoked-client", Role::kClient);
    auto c = transport::DataClient::Connect(site.agent_data["n1"], revoked);
    if (c.ok()) CHECK_FALSE((*c)->Infer("d", input).ok());
    CHECK(WaitFor([&] { return Metric(Get(site.agent_http["n1"], "/metrics"), "edgesplit_agent_tls_refused_total{reason=\"revoked\"}") >= 1; }, 5s));
  }
}
