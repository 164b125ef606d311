// The generation tests' cluster: a synthetic GPT package and edgesplit-agent processes on
// loopback, driven by a TestController over the control protocol (plaintext: these tests are
// about sessions, not identity).
#pragma once

#include <signal.h>

#include <catch.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "agent/runtime/gpt_synth.h"
#include "agent/runtime/torch_threads.h"
#include "common/model/generation_request.h"
#include "common/model/manifest.h"
#include "test/agent/daemon/subprocess.h"
#include "test/agent/daemon/test_controller.h"

namespace edgesplit::testing {

using namespace std::chrono_literals;

inline std::string Env(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v ? v : def;
}

inline GenerationRequest Req(std::vector<int64_t> prompt, int64_t n, SamplingParams s = {}) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = n;
  r.sampling = s;
  return r;
}

// The tests' model: a 4-block GPT small enough to generate quickly in every agent.
inline GptSynthOptions SmallGpt(const std::string& name) {
  GptSynthOptions go;
  go.name = name;
  go.layers = 4;
  go.d_model = 64;
  go.heads = 4;
  go.vocab = 100;
  go.seq = 16;
  go.max_context = 256;
  go.seed = 11;
  return go;
}

struct Cluster {
  std::string tmp, models;
  std::string package = "gpt-gen";  // the package Deploy loads
  Manifest manifest;
  int L = 0;
  TestController ctl{100};
  std::vector<std::unique_ptr<Subprocess>> procs;
  std::map<std::string, std::string> addr;
  // The epoch the next Deploy replaces (its number and stages), and whether Deploy offers the
  // new stages the KV copy from it (the orchestrator always does for a planned change).
  uint64_t last_epoch = 0;
  std::vector<v1::StageRef> last_stages;
  bool offer_copy = true;
  // Test hook: the address Deploy names for a node in the new epoch's stage list (where old
  // holders send its KV) instead of its data address.
  std::map<std::string, std::string> kv_address;

  Cluster() {
    ConfigureTorch({1, 1});
    tmp = Env("ES_TEST_TMP", "/tmp") + "/agent_generation_" + std::to_string(getpid());
    models = tmp + "/models";
    std::filesystem::create_directories(models);
    REQUIRE(SynthesizeGpt(SmallGpt("gpt-gen"), models + "/gpt-gen").ok());
    manifest = LoadManifest(models + "/gpt-gen").value();
    L = manifest.num_layers();
  }
  ~Cluster() {
    for (auto& p : procs)
      if (p->running()) p->Stop(SIGKILL, 5);
    std::filesystem::remove_all(tmp);
  }
  void Start(const std::string& node, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--node", node, "--tls-mode", "off", "--orchestrator", ctl.address(), "--data-listen", "127.0.0.1:0",
                                  "--http-listen", "127.0.0.1:0", "--models-dir", models, "--intra-op-threads", "1",
                                  "--heartbeat-period-ms", "100", "--reconnect-min-ms", "20"};
    args.insert(args.end(), extra.begin(), extra.end());
    procs.push_back(std::make_unique<Subprocess>(Env("ES_BIN_DIR", "build/bin") + "/edgesplit-agent", args,
                                                 tmp + "/" + node + ".log"));
    REQUIRE(procs.back()->running());
  }
  void Call(const std::string& node, v1::Command c) {
    auto ack = ctl.Call(node, std::move(c), 60s);
    REQUIRE(ack.ok());
    INFO(node << ": " << ack->error_code() << " " << ack->error());
    REQUIRE(ack->ok());
  }
  // Loads `epoch` with stages on `nodes` cut at `cuts` (entry = nodes[0]) and activates it
  // (`lost`: as the orchestrator does after a node loss, in-flight work moves at once).
  void Deploy(uint64_t epoch, const std::vector<std::string>& nodes, const std::vector<int>& cuts, bool lost = false) {
    std::vector<int> b = {0};
    b.insert(b.end(), cuts.begin(), cuts.end());
    b.push_back(L);
    std::vector<v1::StageRef> stages;
    for (size_t i = 0; i < nodes.size(); ++i) {
      v1::StageRef r;
      r.set_node(nodes[i]);
      r.set_data_address(kv_address.count(nodes[i]) ? kv_address[nodes[i]] : addr[nodes[i]]);
      r.set_first_layer(b[i]);
      r.set_end_layer(b[i + 1]);
      stages.push_back(r);
    }
    for (size_t i = nodes.size(); i-- > 0;) {
      v1::Command load = TestController::Load("gpt", epoch, package, b[i], b[i + 1], L,
                                              i + 1 < nodes.size() ? addr[nodes[i + 1]] : "", i == 0, addr[nodes[0]]);
      for (const auto& r : stages) *load.mutable_load()->add_stages() = r;
      if (offer_copy && last_epoch != 0) {
        load.mutable_load()->set_carry_from_epoch(last_epoch);
        for (const auto& r : last_stages) *load.mutable_load()->add_carry_from() = r;
      }
      Call(nodes[i], std::move(load));
    }
    last_epoch = epoch;
    last_stages = stages;
    v1::Command activate = TestController::Activate("gpt", epoch);
    activate.mutable_activate()->set_retry_in_flight(lost);
    Call(nodes[0], std::move(activate));
  }
  // Waits (bounded) until every node's heartbeat reports `n` sessions holding KV state.
  bool WaitKvSessions(const std::vector<std::string>& nodes, uint32_t n, Duration timeout = 20s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& node : nodes) all = all && ctl.last_heartbeat(node).capacity().active_sessions() == n;
      if (all) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

}  // namespace edgesplit::testing
