// Test fixtures for the controller: a fake agent layer that acks commands and keeps the
// segments each node holds, four registered nodes n1..n4 (trusted by the operator's list) and a
// FakeClock. Shared by the controller's test files; nothing sleeps.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <catch.hpp>

#include "orchestrator/controller/controller.h"

namespace edgesplit::orch::testing {

using namespace std::chrono_literals;

inline CatalogModel Model(int layers) {
  CatalogModel m;
  m.name = "gpt";
  m.manifest.name = "gpt";
  m.manifest.input = {DType::kInt64, {1, 16}};
  for (int i = 0; i < layers; ++i) {
    LayerSpec l;
    l.name = "l" + std::to_string(i);
    l.param_bytes = 1 << 20;
    l.output = {DType::kFloat32, {1, 16, 64}};
    m.manifest.layers.push_back(l);
    m.reference_layer_ms.push_back(10.0);
  }
  return m;
}

inline constexpr uint64_t kMemory = (5u << 20) / 2;

struct FakeAgents {
  // node -> (deployment/epoch -> segment)
  std::map<std::string, std::map<std::pair<std::string, uint64_t>, SegmentReport>> segs;
  std::map<std::string, double> slowdown;
  std::map<std::string, double> probe_speed;  // the speed_factor reported, when set (a probe that could not run)
  std::set<std::string> fresh;                // nodes whose segments report too few requests to be trusted
  std::set<std::string> down;
  std::vector<AgentCommand> log;
  bool fail_loads = false;
  std::set<CommandKind> hold;       // commands of these kinds wait in `held`, unacked
  std::vector<AgentCommand> held;
  uint64_t memory = kMemory;
  // Passes per second through the deployment: every node's segment of the newest epoch reports
  // the busy fraction they cause (passes x its layers' measured time).
  double passes_per_s = 0;
  std::map<std::string, double> extra_busy;  // busy time beyond the layers' (per-pass overhead)
  double answered_p50_ms = 0;  // the entry's report of what it answered (0: nothing answered)

  void Pump(Controller& c, TimePoint now) {
    for (int round = 0; round < 20; ++round) {
      auto cmds = c.TakeOutbox();
      if (cmds.empty()) return;
      for (const auto& cmd : cmds) {
        log.push_back(cmd);
        if (down.count(cmd.node)) continue;
        if (hold.count(cmd.kind)) {
          held.push_back(cmd);
          continue;
        }
        AckInfo ack;
        ack.command_id = cmd.id;
        ack.ok = true;
        auto key = std::make_pair(cmd.deployment, cmd.epoch);
        if (cmd.kind == CommandKind::kLoad) {
          if (fail_loads) {
            ack.ok = false;
            ack.error = "no memory";
          } else {
            SegmentReport s;
            s.deployment = cmd.deployment;
            s.epoch = cmd.epoch;
            s.model = cmd.model;
            s.first_layer = cmd.first_layer;
            s.end_layer = cmd.end_layer;
            s.state = "ready";
            segs[cmd.node][key] = s;
          }
        } else if (cmd.kind == CommandKind::kUnload) {
          segs[cmd.node].erase(key);
        } else if (cmd.kind == CommandKind::kActivate) {
          segs[cmd.node][key].active = true;
        }
        c.OnAck(cmd.node, ack, now);
      }
    }
  }
  // Acks the held commands (and pumps whatever follows, holding nothing more).
  void ReleaseHeld(Controller& c, TimePoint now) {
    hold.clear();
    std::vector<AgentCommand> h;
    h.swap(held);
    for (const auto& cmd : h) {
      AckInfo ack;
      ack.command_id = cmd.id;
      ack.ok = true;
      c.OnAck(cmd.node, ack, now);
    }
    Pump(c, now);
  }
  CapacityReport Profile(const std::string& node) {
    CapacityReport p;
    p.version = ++version;
    p.cores = 4;
    // Each node holds at most two layers: plans need three of the four nodes.
    uint64_t held = 0;
    for (const auto& [k, seg] : segs[node]) held += uint64_t(seg.end_layer - seg.first_layer) << 20;
    p.memory_available_bytes = memory > held ? memory - held : 0;
    p.compute_slowdown = slowdown.count(node) ? slowdown[node] : 1.0;
    p.speed_factor = probe_speed.count(node) ? probe_speed[node] : 1.0 / p.compute_slowdown;  // the compute probe
    uint64_t newest = 0;
    for (const auto& [n, m] : segs)
      for (const auto& [k, s] : m) newest = std::max(newest, k.second);
    for (const auto& [k, s] : segs[node]) {
      SegmentReport r = s;
      r.layer_ms.assign(s.end_layer - s.first_layer, 10.0 * p.compute_slowdown);
      r.requests_total = fresh.count(node) ? 5 : 100;
      if (k.second == newest)
        r.busy_fraction = passes_per_s * (s.end_layer - s.first_layer) * 10.0 * p.compute_slowdown / 1000 +
                          (extra_busy.count(node) ? extra_busy[node] : 0.0);
      if (k.second == newest && s.first_layer == 0 && answered_p50_ms > 0) r.answered = 10, r.answered_p50_ms = answered_p50_ms;
      p.segments.push_back(r);
    }
    return p;
  }
  void Heartbeats(Controller& c, TimePoint now) {
    for (const auto& [n, rec] : c.registry().nodes()) {
      if (!down.count(n)) (void)c.OnHeartbeat(n, 1, Profile(n), now);
    }
  }
  uint64_t version = 0;
};

inline RegisterInfo Info(const std::string& name, bool trusted = true) {
  RegisterInfo r;
  r.node = name;
  r.data_address = "127.0.0.1:" + std::to_string(1000 + name.back());
  r.trusted = trusted;
  r.incarnation = 1;
  r.capacity.memory_available_bytes = kMemory;
  return r;
}

inline ControllerOptions Options() {
  ControllerOptions o;
  // The operator trusts n1..n4 (the agents' own claims grant nothing).
  o.registry.trusted_nodes = {"n1", "n2", "n3", "n4"};
  o.policy.cooldown = 2s;
  o.policy.evaluate_interval = 250ms;
  o.rollout.drain_grace = 0ms;
  o.adopt_grace = 1s;
  return o;
}

struct World {
  FakeClock clock;
  FakeAgents agents;
  std::unique_ptr<Controller> c;
  explicit World(ControllerOptions o = Options(), int layers = 6, uint64_t memory = kMemory,
                 std::map<std::string, double> slowdown = {}) {
    ModelCatalog cat;
    REQUIRE(cat.Add(Model(layers)).ok());
    c = std::make_unique<Controller>(o, std::move(cat));
    agents.memory = memory;
    agents.slowdown = std::move(slowdown);
    for (std::string n : {"n1", "n2", "n3", "n4"}) {
      RegisterInfo info = Info(n);
      info.capacity.memory_available_bytes = memory;
      info.capacity.compute_slowdown = agents.slowdown.count(n) ? agents.slowdown[n] : 1.0;
      info.capacity.speed_factor = 1.0 / info.capacity.compute_slowdown;
      REQUIRE(c->OnRegister(info, clock.Now()).ok());
    }
    c->Tick(clock.Now());
  }
  // Advances time in heartbeat steps, pumping commands and heartbeats.
  void Run(Duration d) {
    for (Duration t = 0ms; t < d; t += 250ms) {
      clock.Advance(250ms);
      agents.Heartbeats(*c, clock.Now());
      c->Tick(clock.Now());
      agents.Pump(*c, clock.Now());
    }
  }
  const Deployment& Dep() { return c->deployments().at("d"); }
  size_t CountEvents(const std::string& type, const std::string& kind) {
    auto ev = c->events().Since(0, 100000);
    return std::count_if(ev.begin(), ev.end(), [&](const Event& e) { return e.type == type && e.kind == kind; });
  }
};

inline DeploymentSpec Spec() {
  DeploymentSpec s;
  s.name = "d";
  s.model = "gpt";
  s.entry_node = "n1";
  return s;
}

}  // namespace edgesplit::orch::testing
