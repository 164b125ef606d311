// The policy modes against fake agents (the baselines of scripts/trace.sh): static never
// changes the placed plan and only loads it again on a restarted stage node; periodic re-plans
// once per period whatever happened in between; neither may keep a plan that breaks trust.
#include <algorithm>

#include <catch.hpp>

#include "test/orchestrator/controller/controller_world.h"

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;
using namespace edgesplit::orch::testing;

namespace {

ControllerOptions ModeOptions(PolicyMode mode, Duration period = 60s) {
  ControllerOptions o = Options();
  o.policy.mode = mode;
  o.policy.period = period;
  return o;
}

std::string LastStageNode(const Deployment& d) {
  std::string v;
  for (const auto& s : d.stages)
    if (s.node != "n1") v = s.node;
  return v;
}

std::string Layout(const std::vector<StageTarget>& st) {
  std::string s;
  for (const auto& t : st) s += t.node + "[" + std::to_string(t.first_layer) + "," + std::to_string(t.end_layer) + ") ";
  return s;
}

void Placed(World& w) {
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == 1);
  REQUIRE(w.Dep().stages.size() > 1);
}

void Kill(World& w, const std::string& n) {
  w.agents.down.insert(n);
  w.agents.segs.erase(n);
  w.c->OnDisconnect(n, w.clock.Now());
}

void Restart(World& w, const std::string& n) {
  w.agents.down.erase(n);
  RegisterInfo info = Info(n);
  info.incarnation = 2;
  REQUIRE(w.c->OnRegister(info, w.clock.Now()).ok());
}

}  // namespace

TEST_CASE("static: a slowed stage node keeps its stage; the placement stays") {
  World w(ModeOptions(PolicyMode::kStatic));
  Placed(w);
  const std::string before = Layout(w.Dep().stages);
  w.agents.slowdown[LastStageNode(w.Dep())] = 8.0;
  w.Run(10s);
  CHECK(w.Dep().epoch == 1);
  CHECK(Layout(w.Dep().stages) == before);
  CHECK(w.Dep().reconfigurations == 0);
  CHECK(w.CountEvents("decision", "migrate") + w.CountEvents("decision", "resplit") == 0);
}

TEST_CASE("static: a lost stage node's stage waits for it; back without its segment, the same plan is loaded again") {
  World w(ModeOptions(PolicyMode::kStatic));
  Placed(w);
  const auto before = w.Dep().stages;
  const std::string victim = LastStageNode(w.Dep());
  Kill(w, victim);
  w.Run(3s);
  CHECK(w.Dep().epoch == 1);
  CHECK(w.Dep().status == DeploymentStatus::kDegraded);
  CHECK(w.Dep().status_reason.find("static policy holds the plan: node " + victim + " is not alive") != std::string::npos);
  CHECK(w.CountEvents("decision", "none") == 1);  // said once, not at every evaluation

  Restart(w, victim);
  w.Run(1s);
  REQUIRE(w.Dep().epoch == 2);
  CHECK(Layout(w.Dep().stages) == Layout(before));
  CHECK(w.Dep().status == DeploymentStatus::kServing);
  CHECK(w.Dep().reconfigurations == 1);
  int layers = 0;
  for (const auto& s : before)
    if (s.node == victim) layers = s.end_layer - s.first_layer;
  CHECK(w.Dep().weight_bytes_moved == Approx(double(layers) * (1 << 20)));
  CHECK(w.agents.segs[victim].count({"d", 2}) == 1);
  // Reloaded once: the new epoch is held by the node, nothing more happens.
  w.Run(5s);
  CHECK(w.Dep().epoch == 2);
}

TEST_CASE("periodic: changes wait for the period, then the best plan is adopted at once") {
  World w(ModeOptions(PolicyMode::kPeriodic, 10s));
  Placed(w);
  const std::string victim = LastStageNode(w.Dep());
  w.Run(3s);
  w.agents.slowdown[victim] = 8.0;
  w.Run(5s);  // 8 s after the placement: not yet
  CHECK(w.Dep().epoch == 1);
  w.Run(3s);  // the period is over: one evaluation decides, no confirmation rounds
  REQUIRE(w.Dep().epoch == 2);
  for (const auto& s : w.Dep().stages) CHECK(s.node != victim);
  CHECK(w.Dep().reconfigurations == 1);
  CHECK(w.Dep().weight_bytes_moved > 0);
  // A lost node waits for the next period too.
  const std::string next = LastStageNode(w.Dep());
  Kill(w, next);
  w.Run(5s);
  CHECK(w.Dep().epoch == 2);
  w.Run(6s);
  CHECK(w.Dep().epoch == 3);
  for (const auto& s : w.Dep().stages) CHECK(s.node != next);
}

TEST_CASE("static and periodic still move privacy-restricted layers off a node whose trust is revoked") {
  for (PolicyMode mode : {PolicyMode::kStatic, PolicyMode::kPeriodic}) {
    World w(ModeOptions(mode));
    DeploymentSpec spec = Spec();
    spec.trusted_prefix_layers = 4;
    REQUIRE(w.c->CreateDeployment(spec, w.clock.Now()).ok());
    w.agents.Pump(*w.c, w.clock.Now());
    std::string holder;
    for (const auto& s : w.Dep().stages)
      if (s.node != "n1" && s.first_layer < 4) holder = s.node;
    REQUIRE(!holder.empty());
    REQUIRE(w.c->SetTrusted(holder, false, w.clock.Now()).ok());
    w.agents.Pump(*w.c, w.clock.Now());
    w.Run(1s);
    CHECK(w.Dep().epoch == 2);
    for (const auto& s : w.Dep().stages)
      if (s.node == holder) CHECK(s.first_layer >= 4);
  }
}
