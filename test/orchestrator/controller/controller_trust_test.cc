// Trust belongs to the operator (issue 13): an agent's claim grants nothing, the entry and the
// privacy-restricted layers stay on operator-trusted nodes, and a revocation moves them off at
// once (cool-down or not) while the committed epoch's route is held until the new one commits.
#include <algorithm>

#include <catch.hpp>

#include "orchestrator/controller/controller.h"
#include "test/orchestrator/controller/controller_world.h"

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace edgesplit::orch::testing;
using namespace std::chrono_literals;

namespace {

// n1..n3 trusted by the operator; n4 not; "ev" claims trust and reports a speed of 50.
struct TrustWorld : World {
  static ControllerOptions Opts() {
    ControllerOptions o = Options();
    o.registry.trusted_nodes = {"n1", "n2", "n3"};
    return o;
  }
  TrustWorld() : World(Opts()) {
    agents.slowdown["ev"] = 0.02;
    RegisterInfo ev = Info("ev", /*trusted=*/true);
    ev.capacity.compute_slowdown = 0.02;
    ev.capacity.speed_factor = 50;
    REQUIRE(c->OnRegister(ev, clock.Now()).ok());
    agents.Heartbeats(*c, clock.Now());
  }
  // Creates deployment "d" (no entry given) and commits its first epoch.
  void Deploy(int trusted_prefix_layers) {
    DeploymentSpec s = Spec();
    s.entry_node.clear();
    s.trusted_prefix_layers = trusted_prefix_layers;
    REQUIRE(c->CreateDeployment(s, clock.Now()).ok());
    agents.Pump(*c, clock.Now());
    REQUIRE(Dep().epoch == 1);
  }
  const Event* LastDecision() {
    static Event e;
    auto ev = c->events().Since(0, 100000);
    for (auto it = ev.rbegin(); it != ev.rend(); ++it) {
      if (it->type == "decision") {
        e = *it;
        return &e;
      }
    }
    return nullptr;
  }
};

// No stage on an untrusted node holds a layer below `prefix`, and the entry is trusted.
void CheckTrustKept(const Controller& c, const Deployment& d, int prefix) {
  REQUIRE(!d.stages.empty());
  CHECK(c.registry().IsTrusted(d.stages.front().node));
  for (const auto& s : d.stages) {
    INFO("stage on " << s.node << " [" << s.first_layer << ", " << s.end_layer << ")");
    if (s.first_layer < prefix) CHECK(c.registry().IsTrusted(s.node));
  }
}

bool Holds(const Deployment& d, const std::string& node) {
  return std::any_of(d.stages.begin(), d.stages.end(), [&](const StageTarget& s) { return s.node == node; });
}

}  // namespace

TEST_CASE("a fast node claiming trust gets no privacy-restricted layer and is not chosen as entry") {
  TrustWorld w;
  CHECK(w.c->registry().Find("ev")->claims_trusted);
  CHECK(!w.c->registry().Find("ev")->trusted);
  w.Deploy(4);
  CHECK(w.Dep().spec.entry_node != "ev");
  CHECK(w.c->RouteFor("d")->entry_node != "ev");
  CheckTrustKept(*w.c, w.Dep(), 4);
}

TEST_CASE("an entry the operator does not trust is refused at creation, and so is a deployment no trusted node can enter") {
  TrustWorld w;
  DeploymentSpec s = Spec();
  s.entry_node = "ev";
  auto r = w.c->CreateDeployment(s, w.clock.Now());
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK(r.status().message().find("entry node ev is not trusted by the operator") != std::string::npos);
  CHECK(w.c->PreviewPlan(s).status().code() == StatusCode::kFailedPrecondition);

  ControllerOptions none = Options();
  none.registry.trusted_nodes.clear();
  World w2(none);
  s.entry_node.clear();
  r = w2.c->CreateDeployment(s, w2.clock.Now());
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK(r.status().message().find("no alive node trusted by the operator") != std::string::npos);
  CHECK(w2.c->deployments().empty());
}

TEST_CASE("revoking the entry's trust moves the entry at once, in the cool-down, and holds the route until commit") {
  TrustWorld w;
  w.Deploy(4);
  const std::string entry = w.Dep().stages.front().node;
  REQUIRE(w.c->RouteFor("d").ok());
  w.clock.Advance(250ms);  // well inside the 2 s cool-down
  REQUIRE(w.c->SetTrusted(entry, false, w.clock.Now()).ok());
  // Re-planned at once: epoch 2 is preparing; epoch 1's route sends nothing new to the old entry.
  REQUIRE(w.Dep().rollout);
  auto held = w.c->RouteFor("d");
  CHECK(held.status().code() == StatusCode::kUnavailable);
  CHECK(held.status().message().find("on hold") != std::string::npos);
  const Event* dec = w.LastDecision();
  REQUIRE(dec);
  CHECK(dec->trigger == "trust_change");
  CHECK(dec->reason.find("entry node " + entry + " is not trusted by the operator") != std::string::npos);
  CHECK(dec->reason.find("the entry moves from " + entry) != std::string::npos);
  CHECK(w.CountEvents("node", "untrusted") == 1);

  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == 2);
  auto route = w.c->RouteFor("d");
  REQUIRE(route.ok());
  CHECK(route->entry_node != entry);
  CHECK(route->epoch == 2);
  CHECK(w.Dep().spec.entry_node == route->entry_node);
  CHECK(!Holds(w.Dep(), entry));
  CheckTrustKept(*w.c, w.Dep(), 4);
  CHECK(w.c->TakeDirty());  // the decision and the new entry are persisted
  // The old entry's epoch was drained and released, never given the new one.
  bool unloaded = false;
  for (const auto& cmd : w.agents.log) {
    if (cmd.node == entry && cmd.epoch == 2) CHECK(cmd.kind != CommandKind::kLoad);
    unloaded = unloaded || (cmd.node == entry && cmd.kind == CommandKind::kUnload && cmd.epoch == 1);
  }
  CHECK(unloaded);
}

TEST_CASE("revoking a node holding privacy-restricted layers moves them off it; other nodes' revocation changes nothing") {
  TrustWorld w;
  w.Deploy(4);
  const std::string entry = w.Dep().stages.front().node;
  std::string holder;
  for (const auto& s : w.Dep().stages) {
    if (s.node != entry && s.first_layer < 4) holder = s.node;
  }
  REQUIRE(!holder.empty());
  std::string unused;
  for (std::string n : {"n1", "n2", "n3"}) {
    if (!Holds(w.Dep(), n)) unused = n;
  }
  if (!unused.empty()) {
    REQUIRE(w.c->SetTrusted(unused, false, w.clock.Now()).ok());
    CHECK(!w.Dep().rollout);
    CHECK(w.c->RouteFor("d").ok());
    REQUIRE(w.c->SetTrusted(unused, true, w.clock.Now()).ok());
    w.agents.Pump(*w.c, w.clock.Now());
  }
  const uint64_t epoch = w.Dep().epoch;
  REQUIRE(w.c->SetTrusted(holder, false, w.clock.Now()).ok());
  CHECK(w.c->RouteFor("d").status().code() == StatusCode::kUnavailable);
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == epoch + 1);
  CHECK(w.c->RouteFor("d").ok());
  CheckTrustKept(*w.c, w.Dep(), 4);
  for (const auto& s : w.Dep().stages) {
    if (s.node == holder) CHECK(s.first_layer >= 4);
  }
}

TEST_CASE("a revocation aborts a rollout still preparing on the node and re-plans without it") {
  TrustWorld w;
  DeploymentSpec s = Spec();
  s.entry_node.clear();
  s.trusted_prefix_layers = 2;
  w.agents.hold = {CommandKind::kLoad};
  REQUIRE(w.c->CreateDeployment(s, w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().rollout);
  const std::string entry = w.Dep().rollout->spec().to.front().node;
  REQUIRE(w.c->SetTrusted(entry, false, w.clock.Now()).ok());
  CHECK(w.CountEvents("rollout", "aborted") == 1);
  REQUIRE(w.Dep().rollout);
  CHECK(w.Dep().rollout->spec().to.front().node != entry);
  w.agents.ReleaseHeld(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == 2);
  CHECK(w.Dep().stages.front().node != entry);
  CheckTrustKept(*w.c, w.Dep(), 2);  // the node may keep unrestricted layers
}

TEST_CASE("a revocation after a rollout committed re-plans the moment that rollout is done") {
  TrustWorld w;
  w.Deploy(2);
  const std::string first = w.Dep().stages.front().node;
  w.agents.hold = {CommandKind::kDrain};
  REQUIRE(w.c->SetTrusted(first, false, w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().epoch == 2);  // committed, epoch 1 still draining
  REQUIRE(w.Dep().rollout);
  const std::string second = w.Dep().stages.front().node;
  REQUIRE(second != first);
  REQUIRE(w.c->SetTrusted(second, false, w.clock.Now()).ok());
  CHECK(w.c->RouteFor("d").status().code() == StatusCode::kUnavailable);
  w.agents.ReleaseHeld(*w.c, w.clock.Now());  // epoch 1 drained and released: epoch 3 at once
  REQUIRE(w.Dep().epoch == 3);
  CHECK(w.Dep().stages.front().node != first);
  CHECK(w.Dep().stages.front().node != second);
  CheckTrustKept(*w.c, w.Dep(), 2);
  CHECK(w.c->RouteFor("d").ok());
}

TEST_CASE("the operator may trust a name before it registers; the node then may be the entry") {
  TrustWorld w;
  REQUIRE(w.c->SetTrusted("n5", true, w.clock.Now()).ok());
  CHECK(w.c->registry().Find("n5") == nullptr);
  RegisterInfo n5 = Info("n5", /*trusted=*/false);
  n5.capacity.compute_slowdown = 0.5;
  n5.capacity.speed_factor = 2;  // the fastest trusted node
  REQUIRE(w.c->OnRegister(n5, w.clock.Now()).ok());
  CHECK(w.c->registry().Find("n5")->trusted);
  w.Deploy(0);
  CHECK(w.Dep().spec.entry_node == "n5");
  CHECK(w.c->SetTrusted("", true, w.clock.Now()).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("a restored deployment whose entry lost the operator's trust is held, then moved once adopted") {
  TrustWorld w;
  w.Deploy(2);
  const std::string entry = w.Dep().stages.front().node;
  Deployment saved;
  saved.spec = w.Dep().spec;
  saved.epoch = w.Dep().epoch;
  saved.stages = w.Dep().stages;
  saved.max_epoch = w.Dep().max_epoch;
  // The restarted orchestrator reads the revocation from its state file.
  ModelCatalog cat;
  REQUIRE(cat.Add(Model(6)).ok());
  auto c2 = std::make_unique<Controller>(TrustWorld::Opts(), std::move(cat));
  REQUIRE(c2->RestoreTrust({{entry, false}}).ok());
  c2->Tick(w.clock.Now());
  std::vector<Deployment> ds;
  ds.push_back(std::move(saved));
  c2->Restore(std::move(ds), w.clock.Now());
  CHECK(c2->RouteFor("d").status().code() == StatusCode::kUnavailable);
  w.c = std::move(c2);
  for (std::string n : {"n1", "n2", "n3", "n4", "ev"}) {
    RegisterInfo r = Info(n, /*trusted=*/true);  // whatever they claim
    r.capacity = w.agents.Profile(n);
    REQUIRE(w.c->OnRegister(r, w.clock.Now()).ok());
  }
  w.Run(2s);
  REQUIRE(w.Dep().epoch == 2);
  CHECK(w.Dep().stages.front().node != entry);
  CHECK(w.Dep().spec.entry_node == w.Dep().stages.front().node);
  CheckTrustKept(*w.c, w.Dep(), 2);
  CHECK(w.c->RouteFor("d").ok());
}
