// The latency objective's load term against fake agents: the pass rate comes from the busy
// fractions the agents report, plans are compared by response time under it.
#include <algorithm>

#include <catch.hpp>

#include "orchestrator/controller/load_estimate.h"
#include "test/orchestrator/controller/controller_world.h"

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;
using namespace edgesplit::orch::testing;

namespace {

constexpr uint64_t kRoomy = 64u << 20;  // every node can hold the whole model

size_t Adoptions(World& w) {
  auto ev = w.c->events().Since(0, 100000, "d");
  return std::count_if(ev.begin(), ev.end(), [](const Event& e) {
    return e.type == "decision" && (e.kind == "migrate" || e.kind == "resplit");
  });
}

}  // namespace

TEST_CASE("the pass rate is the reported busy time over the stages' priced time") {
  World w(Options(), 6, kRoomy);
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(1s);
  auto inst = w.c->BuildInstance(w.Dep().spec);
  REQUIRE(inst.ok());
  CHECK(PassRate("d", w.c->registry(), *inst) == 0);  // idle
  w.agents.passes_per_s = 12;
  w.Run(1s);
  CHECK(PassRate("d", w.c->registry(), *inst) == Approx(12));
  CHECK(PassRate("other", w.c->registry(), *inst) == 0);
}

TEST_CASE("busy time the prices leave out (per-pass overhead) does not multiply the pass rate") {
  World w;  // each node holds at most two layers: three stages
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  REQUIRE(w.Dep().stages.size() >= 3);
  w.agents.passes_per_s = 10;
  w.agents.extra_busy["n1"] = 0.05;  // 5 ms of framing per pass at the entry, not in any layer's price
  w.Run(1s);
  auto inst = w.c->BuildInstance(w.Dep().spec);
  REQUIRE(inst.ok());
  // Busy summed over priced time summed: (10 x 60 ms + 50 ms) / 60 ms, not a mean of per-stage
  // ratios (which reads the entry's stage at several times the rate).
  CHECK(PassRate("d", w.c->registry(), *inst) == Approx(10 + 0.05 / 0.06));
}

TEST_CASE("the pass rate is smoothed over heartbeats") {
  CHECK(SmoothedRate(0, 12, 0.25, 2) == 12);  // the first sample is taken as it is
  const double once = SmoothedRate(10, 20, 0.25, 2);
  CHECK(once > 10);
  CHECK(once < 12);
  double r = 10;
  for (int i = 0; i < 40; ++i) r = SmoothedRate(r, 20, 0.25, 2);  // 10 s: five time constants
  CHECK(r == Approx(20).epsilon(0.01));
}

TEST_CASE("a single-node plan that load would saturate is split; idle it stays on one node") {
  World w(Options(), 6, kRoomy);
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(4s);
  REQUIRE(w.Dep().stages.size() == 1);  // 60 ms on n1 beats any split with its hops
  CHECK(Adoptions(w) == 0);
  // 15 passes/s of 60 ms: n1 alone is 90 % busy and queues ~270 ms per pass.
  w.agents.passes_per_s = 15;
  w.Run(6s);
  REQUIRE(w.Dep().stages.size() >= 2);
  auto ev = w.c->events().Since(0, 100000, "d");
  auto it = std::find_if(ev.begin(), ev.end(), [](const Event& e) {
    return e.type == "decision" && e.kind == "resplit" && e.reason.find("passes/s") != std::string::npos;
  });
  REQUIRE(it != ev.end());
  INFO(it->reason);
  CHECK(it->reason.find("from 90 %") != std::string::npos);
  // Steady load, steady plan: no further reconfiguration.
  const size_t after = Adoptions(w);
  w.Run(10s);
  CHECK(Adoptions(w) == after);
}

TEST_CASE("with the load term off, plans are compared by idle latency") {
  ControllerOptions o = Options();
  o.policy.max_utilization = 0;
  World w(o, 6, kRoomy);
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.agents.passes_per_s = 15;
  w.Run(8s);
  CHECK(w.Dep().stages.size() == 1);
  CHECK(Adoptions(w) == 0);
}

TEST_CASE("a voluntary change must gain against what the entry reports it answers in") {
  World w;
  REQUIRE(w.c->CreateDeployment(Spec(), w.clock.Now()).ok());
  w.agents.Pump(*w.c, w.clock.Now());
  w.Run(3s);
  std::string victim;
  for (const auto& s : w.Dep().stages)
    if (s.node != "n1") victim = s.node;
  REQUIRE(!victim.empty());
  // The model prices the slowed node's stage 2x, but the entry answers in 30 ms: no move.
  w.agents.answered_p50_ms = 30;
  w.agents.slowdown[victim] = 2.0;
  w.Run(4s);
  CHECK(w.Dep().epoch == 1);
  auto ev = w.c->events().Since(0, 100000, "d");
  CHECK(std::any_of(ev.begin(), ev.end(), [](const Event& e) {
    return e.type == "decision" && e.kind == "keep" && e.reason.find("answers at p50 30.00 ms") != std::string::npos;
  }));
  // Clients now wait 200 ms: the gain holds against the measurement, the plan moves.
  w.agents.answered_p50_ms = 200;
  w.Run(3s);
  CHECK(w.Dep().epoch == 2);
  for (const auto& s : w.Dep().stages) CHECK(s.node != victim);
}
