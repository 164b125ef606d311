// Must-show: three edgesplit-agent processes on loopback, driven by a test controller over the
// control protocol, serve a synthetic GPT cut into 3 segments bitwise-equal to the whole model in
// one process; then a second epoch with other cuts is loaded next to the first and traffic is
// switched to it under load without a failed request; SIGTERM drains and exits 0.
#include <signal.h>

#include <atomic>
#include <catch.hpp>
#include <filesystem>
#include <map>
#include <thread>

#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/profiler.h"
#include "agent/runtime/segment.h"
#include "agent/runtime/torch_threads.h"
#include "agent/transport/client.h"
#include "common/model/manifest.h"
#include "test/agent/daemon/subprocess.h"
#include "test/agent/daemon/test_controller.h"

using namespace edgesplit;
using namespace edgesplit::testing;
using namespace std::chrono_literals;

namespace {

std::string Env(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v ? v : def;
}

}  // namespace

TEST_CASE("three agents serve a split GPT bitwise-equal to the whole model and switch epochs under load") {
  ConfigureTorch({1, 1});
  const std::string tmp = Env("ES_TEST_TMP", "/tmp") + "/agent_pipeline_" + std::to_string(getpid());
  const std::string models = tmp + "/models";
  std::filesystem::create_directories(models);
  GptSynthOptions go;
  go.name = "gpt-test";
  go.layers = 4;
  go.d_model = 64;
  go.heads = 4;
  go.vocab = 100;
  go.seq = 16;
  go.seed = 7;
  REQUIRE(SynthesizeGpt(go, models + "/gpt-test").ok());
  auto manifest = LoadManifest(models + "/gpt-test");
  REQUIRE(manifest.ok());
  const int L = manifest->num_layers();  // 6: embedding, 4 blocks, head

  // Reference outputs from the whole model in this process.
  std::vector<HostTensor> inputs, expected;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    inputs.push_back(MakeExampleInput(*manifest, seed, go.vocab));
    auto out = RunChain(models + "/gpt-test", *manifest, {}, inputs.back());
    REQUIRE(out.ok());
    expected.push_back(*out);
  }

  TestController ctl(100);
  const std::string bin = Env("ES_BIN_DIR", "build/bin") + "/edgesplit-agent";
  std::vector<std::unique_ptr<Subprocess>> procs;
  for (const char* node : {"a1", "a2", "a3"}) {
    procs.push_back(std::make_unique<Subprocess>(
        bin,
        std::vector<std::string>{"--node", node, "--tls-mode", "off", "--orchestrator", ctl.address(), "--data-listen", "127.0.0.1:0",
                                 "--http-listen", "127.0.0.1:0", "--models-dir", models, "--intra-op-threads", "1",
                                 "--heartbeat-period-ms", "100", "--reconnect-min-ms", "20"},
        tmp + "/" + node + ".log"));
    REQUIRE(procs.back()->running());
  }
  REQUIRE(ctl.WaitForAgents(3, 60s));
  std::map<std::string, std::string> addr;
  for (const char* node : {"a1", "a2", "a3"}) {
    auto reg = ctl.registration(node);
    addr[node] = reg.data_address();
    CHECK(reg.capacity().cores() >= 1);
    CHECK(reg.capacity().memory_total_bytes() > 0);
    CHECK(reg.models_size() == 1);
  }

  auto call = [&](const std::string& node, v1::Command c) {
    auto ack = ctl.Call(node, std::move(c), 60s);
    REQUIRE(ack.ok());
    INFO(node << ": " << ack->error_code() << " " << ack->error());
    REQUIRE(ack->ok());
    return *ack;
  };

  // Epoch 1: a1 [0,2) -> a2 [2,4) -> a3 [4,6), results back to a1.
  call("a3", TestController::Load("gpt", 1, "gpt-test", 4, L, L, "", false));
  call("a2", TestController::Load("gpt", 1, "gpt-test", 2, 4, L, addr["a3"], false));
  auto ack = call("a1", TestController::Load("gpt", 1, "gpt-test", 0, 2, L, addr["a2"], true));
  CHECK(ack.segment().state() == "ready");
  call("a1", TestController::Activate("gpt", 1));

  auto client = transport::DataClient::Connect(addr["a1"]);
  REQUIRE(client.ok());
  for (size_t i = 0; i < inputs.size(); ++i) {
    auto out = (*client)->Infer("gpt", inputs[i]);
    REQUIRE(out.ok());
    CHECK(out->SameBytes(expected[i]));
  }

  // Load in the background: 3 clients in a loop, every output checked bitwise.
  std::atomic<bool> stop{false};
  std::atomic<int> ok_count{0}, bad_count{0}, mismatch{0};
  std::vector<std::string> errors;
  std::mutex err_mu;
  std::vector<std::thread> load;
  for (int t = 0; t < 3; ++t) {
    load.emplace_back([&, t] {
      auto c = transport::DataClient::Connect(addr["a1"]);
      if (!c.ok()) {
        bad_count++;
        return;
      }
      for (size_t i = t; !stop; ++i) {
        const size_t k = i % inputs.size();
        auto out = (*c)->Infer("gpt", inputs[k]);
        if (!out.ok()) {
          bad_count++;
          std::lock_guard<std::mutex> lock(err_mu);
          errors.push_back(out.status().ToString());
        } else if (!out->SameBytes(expected[k])) {
          mismatch++;
        } else {
          ok_count++;
        }
      }
    });
  }
  auto wait_for_more = [&](int n) {
    const int target = ok_count + n;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (ok_count < target && std::chrono::steady_clock::now() < deadline && bad_count == 0)
      std::this_thread::sleep_for(5ms);
    return ok_count >= target;
  };
  REQUIRE(wait_for_more(10));

  // Epoch 2 with other cuts and placement, loaded next to epoch 1:
  // a1 [0,3) -> a3 [3,4) -> a2 [4,6).
  call("a2", TestController::Load("gpt", 2, "gpt-test", 4, L, L, "", false));
  call("a3", TestController::Load("gpt", 2, "gpt-test", 3, 4, L, addr["a2"], false));
  call("a1", TestController::Load("gpt", 2, "gpt-test", 0, 3, L, addr["a3"], true));
  REQUIRE(wait_for_more(5));
  // Commit: new requests go to epoch 2; drain epoch 1 (acks once its in-flight work is done), release.
  call("a1", TestController::Activate("gpt", 2));
  call("a1", TestController::Drain("gpt", 1));
  call("a2", TestController::Drain("gpt", 1));
  call("a3", TestController::Drain("gpt", 1));
  for (const char* node : {"a1", "a2", "a3"}) call(node, TestController::Unload("gpt", 1));
  REQUIRE(wait_for_more(10));
  stop = true;
  for (auto& t : load) t.join();
  INFO("first error: " << (errors.empty() ? "" : errors[0]));
  CHECK(bad_count == 0);
  CHECK(mismatch == 0);
  CHECK(ok_count > 25);

  // Heartbeats carry the segments of epoch 2 with measured per-layer times.
  REQUIRE(ctl.WaitForHeartbeats("a1", 3, 30s));
  // Wait (bounded) for a heartbeat sent after the unload: only epoch 2 left.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  v1::Heartbeat hb;
  while (std::chrono::steady_clock::now() < deadline) {
    hb = ctl.last_heartbeat("a1");
    if (hb.capacity().segments_size() == 1 && hb.capacity().segments(0).epoch() == 2 &&
        hb.capacity().segments(0).layer_ms_size() > 0 && hb.capacity().segments(0).layer_ms(0) > 0)
      break;
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(hb.capacity().segments_size() == 1);
  // (A fresh-clone run under heavy load once saw layer_ms(0) == 0 here; these say why next time.)
  INFO("requests_total " << hb.capacity().segments(0).requests_total() << " failures_total "
                         << hb.capacity().segments(0).failures_total() << " state " << hb.capacity().segments(0).state());
  CHECK(hb.capacity().segments(0).epoch() == 2);
  CHECK(hb.capacity().segments(0).layer_ms_size() == 3);
  CHECK(hb.capacity().segments(0).layer_ms(0) > 0);
  CHECK(hb.capacity().segments(0).active());

  // Probe links a1 -> a2, a3 over the data port.
  v1::Command probe;
  for (const char* n : {"a2", "a3"}) {
    auto* p = probe.mutable_probe()->add_peers();
    p->set_node(n);
    p->set_data_address(addr[n]);
  }
  // 4 MiB so that the transfer stands out of two round trips' noise on a loaded box; a probe
  // that cannot resolve it reports 0 ("nothing learned", docs/agent.md), so up to 3 tries.
  probe.mutable_probe()->set_probe_bytes(4 << 20);
  std::map<std::string, double> mbps;
  for (int attempt = 0; attempt < 3 && mbps.size() < 2; ++attempt) {
    auto pack = call("a1", probe);
    REQUIRE(pack.links_size() == 2);
    for (const auto& l : pack.links()) {
      CHECK(l.error().empty());
      CHECK(l.rtt_ms() > 0);
      CHECK(l.bandwidth_mbps() >= 0);
      if (l.bandwidth_mbps() > 0) mbps[l.peer()] = l.bandwidth_mbps();
    }
  }
  CHECK(mbps.size() == 2);

  // SIGTERM drains and exits 0.
  for (auto& p : procs) CHECK(p->Stop(SIGTERM, 30) == 0);
  std::filesystem::remove_all(tmp);
}
