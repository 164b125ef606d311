// Shared by the benchmarks: in-process agents on loopback serving one deployment cut at
// `bounds` (stage i holds [bounds[i], bounds[i+1])), each with its own io thread and a
// single-threaded compute pool, loaded and activated through the control commands. With
// `tls`, each agent has its own certificate from the test CA (named after its node, as
// deployed) and every stage is told the epoch's stage list, so the data plane authorises by plan.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "agent/daemon/agent.h"
#include "test/support/test_pki.h"

namespace edgesplit::bench {

// Cuts balancing the transformer blocks of a GPT package (layer 0 the embedding, L-1 the head).
inline std::vector<int> BlockBalancedBounds(int blocks, int stages) {
  std::vector<int> bounds = {0};
  for (int i = 1; i < stages; ++i) bounds.push_back(1 + static_cast<int>(std::lround(static_cast<double>(blocks) * i / stages)));
  bounds.push_back(blocks + 2);
  return bounds;
}

inline std::string BoundsText(const std::vector<int>& b) {
  std::string s;
  for (size_t i = 0; i + 1 < b.size(); ++i) s += (i ? " [" : "[") + std::to_string(b[i]) + "," + std::to_string(b[i + 1]) + ")";
  return s;
}

// Returns the agents (entry first), or an empty vector after printing why.
inline std::vector<std::unique_ptr<agent::Agent>> StartChain(const std::string& models_dir, const std::string& model,
                                                             const std::vector<int>& bounds, int decode_batch_max = 1,
                                                             bool tls = false, const std::string& name_prefix = "stage") {
  using namespace std::chrono_literals;
  const int stages = static_cast<int>(bounds.size()) - 1, L = bounds.back();
  std::vector<std::unique_ptr<agent::Agent>> agents;
  for (int i = 0; i < stages; ++i) {
    agent::AgentConfig c;
    c.node = name_prefix + std::to_string(i);
    c.tls = tls ? testing::TestPki::Get().Config(c.node, security::Role::kAgent) : testing::PlaintextTls();
    c.data_listen = "127.0.0.1:0";
    c.http_listen = "";
    c.models_dir = models_dir;
    c.max_queue = 256;
    c.decode_batch_max = decode_batch_max;
    auto a = agent::Agent::Create(c);
    if (!a.ok() || !(*a)->Start().ok()) {
      std::fprintf(stderr, "agent start failed\n");
      return {};
    }
    agents.push_back(std::move(*a));
  }
  for (int i = stages - 1; i >= 0; --i) {
    v1::Command cmd;
    auto* l = cmd.mutable_load();
    l->set_deployment("gpt");
    l->set_epoch(1);
    l->set_model(model);
    l->set_first_layer(bounds[i]);
    l->set_end_layer(bounds[i + 1]);
    l->set_num_layers(L);
    if (i + 1 < stages) l->set_downstream_address(agents[i + 1]->data_address());
    l->set_is_entry(i == 0);
    l->set_entry_address(agents[0]->data_address());
    for (int k = 0; k < stages; ++k) l->add_stage_nodes(name_prefix + std::to_string(k));
    l->set_stage_index(i);
    auto ack = agents[i]->Execute(cmd, 120s);
    if (!ack.ok() || !ack->ok()) {
      std::fprintf(stderr, "load failed: %s\n", ack.ok() ? ack->error().c_str() : ack.status().ToString().c_str());
      return {};
    }
  }
  v1::Command act;
  act.mutable_activate()->set_deployment("gpt");
  act.mutable_activate()->set_epoch(1);
  (void)agents[0]->Execute(act, 10s);
  return agents;
}

}  // namespace edgesplit::bench
