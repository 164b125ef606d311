// The controller against fake agents: commands are acked by a fake agent layer that keeps the
// segments each node holds, time is a FakeClock. Nothing sleeps.
#include "orchestrator/controller/controller.h"

#include <algorithm>

#include <catch.hpp>

#include "test/orchestrator/controller/controller_world.h"

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;
using namespace edgesplit::orch::testing;

TEST_CASE("a deployment is placed by the planner and committed at epoch 1") {
  World w;
  auto d = w.c->CreateDeployment(Spec(), w.clock.Now());
  REQUIRE(d.ok());
  w.agents.Pump(*w.c, w.clock.Now());
  CHECK(w.Dep().epoch == 1);
  CHECK(w.Dep().status == DeploymentStatus::kServing);
  auto route = w.c->RouteFor("d");
  REQUIRE(route.ok());
  CHECK(route->epoch == 1);
  CHECK(w.CountEvents("decision", "place") == 1);
}

TEST_CASE("bad deployments are refused and change nothing") {
  World w;
  DeploymentSpec s = Spec();
  s.model = "nope";
  CHECK(w.c->CreateDeployment(s, w.clock.Now()).status().code() == StatusCode::kNotFound);
  s = Spec();
  s.name = "bad name!";
  CHECK(w.c->CreateDeployment(s, w.clock.Now()).status().code() == StatusCode::kInvalidArgument);
  s = Spec();
  s.entry_node = "ghost";
  CHECK(!w.c->CreateDeployment(s, w.clock.Now()).ok());
  CHECK(w.c->deployments().empty());
  CHECK(w.c->TakeOutbox().empty());
}

TEST_CASE("a slowed stage node leads to a new plan that avoids it, without touching serving epochs") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(3s);  // past the cool-down
  REQUIRE(w.Dep().epoch == 1);
  std::string victim;
  for (const auto& s : w.Dep().stages) {
    if (s.node != "n1") victim = s.node;
  }
  REQUIRE(!victim.empty());
  w.agents.slowdown[victim] = 8.0;
  w.Run(2s);
  CHECK(w.Dep().epoch == 2);
  for (const auto& s : w.Dep().stages) CHECK(s.node != victim);
  // The old epoch was unloaded everywhere, the new one is loaded.
  for (const auto& [node, segs] : w.agents.segs) {
    for (const auto& [k, s] : segs) CHECK(k.second == 2);
  }
  auto ev = w.c->events().Since(0, 1000, "d");
  bool adopted = std::any_of(ev.begin(), ev.end(), [](const Event& e) {
    return e.type == "decision" && (e.kind == "migrate" || e.kind == "resplit") && e.trigger == "profile_drift" &&
           e.predicted_gain_ms > 0;
  });
  CHECK(adopted);
  CHECK(!w.c->reconfigurations().empty());
}

TEST_CASE("a slowed stage node is migrated with the same cuts when new cuts are only slightly better") {
  // 30 layers of 10 ms, up to 12 per node, three stages for the period: 10-10-10 on three of
  // the equal nodes; the spare n4 is 1.2x slower. With a stage node slowed 8x, keeping the cuts
  // on n4 gives a period of 120 ms; new cuts (11-10-9) give 110 ms, 8 % better: inside the 10 %
  // re-split margin, so the move is a migration.
  World w(Options(), 30, 12u << 20, {{"n4", 1.2}});
  DeploymentSpec spec = Spec();
  spec.objective.kind = planner::ObjectiveKind::kPeriod;
  spec.max_stages = 3;
  REQUIRE(w.c->CreateDeployment(spec, w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(3s);
  REQUIRE(w.Dep().epoch == 1);
  const auto before = w.Dep().stages;
  REQUIRE(before.size() == 3);
  for (const auto& s : before) REQUIRE(s.node != "n4");
  const std::string victim = before.back().node;
  w.agents.slowdown[victim] = 8.0;
  w.Run(3s);
  REQUIRE(w.Dep().epoch == 2);
  const auto after = w.Dep().stages;
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].first_layer == before[i].first_layer);
    CHECK(after[i].end_layer == before[i].end_layer);
  }
  CHECK(after.back().node == "n4");
  for (const auto& cmd : w.agents.log)
    if (cmd.kind == CommandKind::kActivate) CHECK_FALSE(cmd.retry_in_flight);  // planned: old epoch drains
  auto ev = w.c->events().Since(0, 1000, "d");
  auto it = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return e.type == "decision" && e.kind == "migrate"; });
  REQUIRE(it != ev.end());
  CHECK(it->reason.find("re-split to 110.") != std::string::npos);
  CHECK(w.CountEvents("decision", "resplit") == 0);

  // With no margin the planner's new cuts are taken instead: a re-split.
  ControllerOptions eager = Options();
  eager.policy.resplit_margin_fraction = 0;
  World w2(eager, 30, 12u << 20, {{"n4", 1.2}});
  REQUIRE(w2.c->CreateDeployment(spec, w2.clock.Now()).ok());
  w2.agents.Pump(*w2.c, w2.clock.Now());
  w2.Run(3s);
  w2.agents.slowdown[w2.Dep().stages.back().node] = 8.0;
  w2.Run(3s);
  REQUIRE(w2.Dep().epoch == 2);
  CHECK(w2.CountEvents("decision", "resplit") == 1);
}

TEST_CASE("a lost stage node is replaced even during the cool-down") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  std::string victim;
  for (const auto& s : w.Dep().stages) {
    if (s.node != "n1") victim = s.node;
  }
  REQUIRE(!victim.empty());
  w.agents.down.insert(victim);
  w.agents.segs.erase(victim);
  w.c->OnDisconnect(victim, w.clock.Now());
  w.Run(1s);
  CHECK(w.Dep().epoch == 2);
  for (const auto& s : w.Dep().stages) CHECK(s.node != victim);
  CHECK(w.CountEvents("rollout", "done") >= 2);
  // The entry is told to resubmit what was in flight through the lost node; the initial
  // placement's activation was not.
  std::vector<bool> retry;
  for (const auto& cmd : w.agents.log)
    if (cmd.kind == CommandKind::kActivate) retry.push_back(cmd.retry_in_flight);
  CHECK(retry == std::vector<bool>{false, true});
  REQUIRE(!w.c->adaptation_ms().empty());
  CHECK(w.c->adaptation_ms().back() <= 1000);
}

TEST_CASE("a failed load aborts and the old epoch keeps serving") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(3s);
  std::string victim;
  for (const auto& s : w.Dep().stages) {
    if (s.node != "n1") victim = s.node;
  }
  REQUIRE(!victim.empty());
  w.agents.fail_loads = true;
  w.agents.slowdown[victim] = 8.0;
  w.Run(1s);
  CHECK(w.Dep().epoch == 1);
  CHECK(w.CountEvents("rollout", "aborted") >= 1);
  CHECK(w.c->RouteFor("d")->epoch == 1);
  // Nothing of the aborted epoch stays loaded.
  for (const auto& [node, segs] : w.agents.segs) {
    for (const auto& [k, s] : segs) CHECK(k.second == 1);
  }
}

TEST_CASE("nothing changes when nothing changed: the plan is kept, no flapping") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(20s);
  CHECK(w.Dep().epoch == 1);
}

TEST_CASE("stale epochs reported by an agent are fenced (unloaded)") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(2s);
  SegmentReport stale;
  stale.deployment = "d";
  stale.epoch = 0;
  stale.model = "gpt";
  stale.state = "ready";
  w.agents.segs["n4"][{"d", 0}] = stale;
  SegmentReport ghost = stale;
  ghost.deployment = "gone";
  ghost.epoch = 3;
  w.agents.segs["n4"][{"gone", 3}] = ghost;
  w.Run(500ms);
  CHECK(w.agents.segs["n4"].count({"d", 0}) == 0);
  CHECK(w.agents.segs["n4"].count({"gone", 3}) == 0);
  CHECK(w.CountEvents("node", "fenced") == 2);
}

TEST_CASE("restored deployments are re-adopted from agent reports without a reconfiguration") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(1s);
  Deployment saved;
  saved.spec = w.Dep().spec;
  saved.epoch = w.Dep().epoch;
  saved.stages = w.Dep().stages;
  saved.max_epoch = w.Dep().max_epoch;
  // A new controller (the restarted orchestrator) with the same agents.
  ModelCatalog cat;
  REQUIRE(cat.Add(Model(6)).ok());
  auto c2 = std::make_unique<Controller>(Options(), std::move(cat));
  c2->Tick(w.clock.Now());
  std::vector<Deployment> ds;
  ds.push_back(std::move(saved));
  c2->Restore(std::move(ds), w.clock.Now());
  CHECK(c2->deployments().at("d").status == DeploymentStatus::kAdopting);
  CHECK(c2->RouteFor("d").ok());  // the gateway can route before the agents are back
  w.c = std::move(c2);
  for (std::string n : {"n1", "n2", "n3", "n4"}) {
    RegisterInfo r = Info(n);
    r.capacity = w.agents.Profile(n);
    REQUIRE(w.c->OnRegister(r, w.clock.Now()).ok());
  }
  w.Run(3s);
  CHECK(w.Dep().status == DeploymentStatus::kServing);
  CHECK(w.Dep().epoch == 1);
  CHECK(w.CountEvents("deployment", "adopted") == 1);
  CHECK(w.CountEvents("node", "fenced") == 0);
  for (const auto& cmd : w.agents.log) CHECK(cmd.kind != CommandKind::kUnload);
}

TEST_CASE("deleting a deployment unloads its segments") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.c->DeleteDeployment("d", w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  for (const auto& [node, segs] : w.agents.segs) CHECK(segs.empty());
  CHECK(w.c->DeleteDeployment("d", w.clock.Now()).code() == StatusCode::kNotFound);
}

TEST_CASE("a freshly adopted plan that new conditions make badly wrong is replaced within the cool-down") {
  ControllerOptions o = Options();
  o.policy.cooldown = 30s;
  World w(o);
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == 1);
  // Just committed (deep in the 30 s cool-down), a stage node becomes 8x slower.
  std::string victim;
  for (const auto& s : w.Dep().stages)
    if (s.node != "n1") victim = s.node;
  REQUIRE(!victim.empty());
  w.agents.slowdown[victim] = 8.0;
  w.Run(3s);
  REQUIRE(w.Dep().epoch == 2);
  for (const auto& s : w.Dep().stages) CHECK(s.node != victim);
  auto ev = w.c->events().Since(0, 1000, "d");
  CHECK(std::any_of(ev.begin(), ev.end(), [](const Event& e) {
    return e.type == "decision" && e.reason.find("cool-down waived") != std::string::npos;
  }));
  // With the waiver off, the same world keeps the plan for the whole cool-down.
  o.policy.cooldown_waiver_factor = 0;
  World w2(o);
  REQUIRE(w2.c->CreateDeployment(Spec(), w2.clock.Now()).ok());
  w2.agents.Pump(*w2.c, w2.clock.Now());
  for (const auto& s : w2.Dep().stages)
    if (s.node != "n1") w2.agents.slowdown[s.node] = 8.0;
  w2.Run(3s);
  CHECK(w2.Dep().epoch == 1);
}

namespace {

// A generating model: 4 layers of 1 MiB weights, each keeping 1 KiB of KV per token, context 512
// (so one session reserves 512 KiB per layer).
CatalogModel GenModel() {
  CatalogModel m = Model(4);
  m.name = m.manifest.name = "gen";
  m.manifest.generation = GenerationSpec{512, 100, "step"};
  for (auto& l : m.manifest.layers) l.state = StateSpec{{DType::kFloat32, {1, 512, 256}, 1}, 1024};
  return m;
}

// n1 the entry (6 MiB: with 8 sessions' KV only layer 0 fits), n2 fast with room for 3 layers'
// weights and little more, n3 slow with plenty of memory.
struct KvWorld {
  FakeClock clock;
  std::unique_ptr<Controller> c;
  KvWorld() {
    ModelCatalog cat;
    REQUIRE(cat.Add(Model(4)).ok());
    REQUIRE(cat.Add(GenModel()).ok());
    c = std::make_unique<Controller>(Options(), std::move(cat));
    const std::map<std::string, std::pair<uint64_t, double>> nodes = {
        {"n1", {6u << 20, 1.0}}, {"n2", {(7u << 20) / 2, 0.25}}, {"n3", {64u << 20, 4.0}}};
    for (const auto& [name, mem_slow] : nodes) {
      RegisterInfo info = Info(name);
      info.capacity.memory_available_bytes = mem_slow.first;
      info.capacity.compute_slowdown = mem_slow.second;
      info.capacity.speed_factor = 1.0 / mem_slow.second;
      REQUIRE(c->OnRegister(info, clock.Now()).ok());
    }
    c->Tick(clock.Now());
  }
};

DeploymentSpec GenSpec(int kv_sessions) {
  DeploymentSpec s = Spec();
  s.model = "gen";
  s.kv_sessions = kv_sessions;
  return s;
}

bool Uses(const std::vector<planner::Stage>& stages, const std::string& node) {
  return std::any_of(stages.begin(), stages.end(), [&](const planner::Stage& s) { return s.node == node; });
}

}  // namespace

TEST_CASE("the planning instance carries the manifest's state bytes and kv_sessions x context tokens") {
  KvWorld w;
  auto inst = w.c->BuildInstance(GenSpec(3));
  REQUIRE(inst.ok());
  CHECK(inst->model.kv_reserve_tokens == 3 * 512);
  for (const auto& l : inst->model.layers) CHECK(l.state_bytes_per_token == 1024);
  DeploymentSpec s = GenSpec(2);
  s.kv_context_tokens = 100;
  inst = w.c->BuildInstance(s);
  REQUIRE(inst.ok());
  CHECK(inst->model.kv_reserve_tokens == 200);
  inst = w.c->BuildInstance(GenSpec(0));
  REQUIRE(inst.ok());
  CHECK(inst->model.kv_reserve_tokens == 0);
}

TEST_CASE("a deployment whose KV a memory-poor node cannot hold gets a plan avoiding that node") {
  KvWorld w;
  // Without a reservation the fast node n2 takes the layers after the entry's.
  auto plain = w.c->PreviewPlan(GenSpec(0));
  REQUIRE(plain.ok());
  REQUIRE(plain->status != planner::PlanStatus::kInfeasible);
  CHECK(Uses(plain->stages, "n2"));
  // 8 sessions reserve 4 MiB per layer: n2 (3.5 MiB) cannot hold even one layer with its KV.
  auto d = w.c->CreateDeployment(GenSpec(8), w.clock.Now());
  INFO(d.status().message());
  REQUIRE(d.ok());
  CHECK((*d)->spec.kv_context_tokens == 512);  // the model's max_context, fixed at creation
  std::vector<planner::Stage> stages;
  for (const auto& s : w.c->TakeOutbox()) {
    if (s.kind == CommandKind::kLoad) stages.push_back({s.node, s.first_layer, s.end_layer});
  }
  REQUIRE_FALSE(stages.empty());
  CHECK_FALSE(Uses(stages, "n2"));
  CHECK(Uses(stages, "n3"));
  // So many sessions that even the entry cannot hold layer 0 with its KV: refused.
  DeploymentSpec big = GenSpec(4000);
  big.name = "big";
  auto r = w.c->CreateDeployment(big, w.clock.Now());
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK(r.status().message().find("KV reservation") != std::string::npos);
}

TEST_CASE("KV keys are refused for a model that cannot generate or beyond its context") {
  KvWorld w;
  DeploymentSpec s = Spec();  // "gpt" has no generation section
  s.kv_sessions = 1;
  auto r = w.c->CreateDeployment(s, w.clock.Now());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "deployment.kv_sessions: model gpt has no generation section");
  s.kv_sessions = 0;
  s.kv_context_tokens = 64;
  r = w.c->CreateDeployment(s, w.clock.Now());
  CHECK(r.status().message() == "deployment.kv_context_tokens: model gpt has no generation section");
  s = GenSpec(1);
  s.kv_context_tokens = 513;
  r = w.c->CreateDeployment(s, w.clock.Now());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message() == "deployment.kv_context_tokens: 513 exceeds the model's generation.max_context 512");
  CHECK(w.c->PreviewPlan(s).status().code() == StatusCode::kInvalidArgument);
  CHECK(w.c->deployments().empty());
}

TEST_CASE("a node whose layers measured slow stays priced slow while its new segments warm up and its probe is stale") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  std::string v;
  for (const auto& s : w.Dep().stages)
    if (s.node != "n1") v = s.node;
  REQUIRE(!v.empty());
  auto cost_on = [&](const std::string& node) {
    auto inst = w.c->BuildInstance(Spec());
    REQUIRE(inst.ok());
    for (const auto& n : inst->nodes)
      if (n.name == node) return n.compute_ms.back();
    FAIL("node not in the instance");
    return 0.0;
  };
  // Busy and 8x slower: its layers measure it, its compute probe cannot run (stays at 1).
  w.agents.slowdown[v] = 8.0;
  w.agents.probe_speed[v] = 1.0;
  w.agents.Heartbeats(*w.c, w.clock.Now());
  CHECK(cost_on(v) == Approx(80));
  // A new epoch: its segments have served too few requests to be trusted yet. The node is still
  // priced by what its layers measured, not by the stale probe (10 ms).
  w.agents.fresh.insert(v);
  w.agents.Heartbeats(*w.c, w.clock.Now());
  CHECK(cost_on(v) == Approx(80));
  // The probe measures again and moved (2x faster than remembered): the memory is dropped.
  w.agents.probe_speed[v] = 2.0;
  w.agents.Heartbeats(*w.c, w.clock.Now());
  w.c->Tick(w.clock.Now());
  CHECK(cost_on(v) == Approx(5));
  // And it expires: remembered again, then 31 s without a trusted segment.
  w.agents.probe_speed[v] = 1.0;
  w.agents.fresh.erase(v);
  w.agents.Heartbeats(*w.c, w.clock.Now());
  w.agents.fresh.insert(v);
  w.clock.Advance(31s);
  w.agents.Heartbeats(*w.c, w.clock.Now());
  w.c->Tick(w.clock.Now());
  CHECK(cost_on(v) == Approx(10));
}
