#include <catch.hpp>

#include "orchestrator/planner/heuristic_solver.h"
#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/local_search.h"
#include "orchestrator/planner/planner.h"

using namespace edgesplit::planner;

TEST_CASE("baselines and local search only return feasible plans", "[planner]") {
  for (uint64_t seed = 1; seed < 800; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 6, 8);
    const CompiledInstance ci(in);
    for (const auto& st : {EvenSplitBaseline(ci), GreedyBaseline(ci), BestSingleNode(ci)}) {
      if (st.empty()) continue;
      INFO("seed " << seed);
      const PlanCost c = ci.EvaluateIndex(st);
      REQUIRE(c.feasible);
      CHECK(PlanValue(ci, st) == Approx(c.value));
      const auto better = ImprovePlan(ci, st, {});
      const PlanCost d = ci.EvaluateIndex(better);
      REQUIRE(d.feasible);
      CHECK(d.value <= c.value * (1 + 1e-12) + 1e-12);
    }
  }
}

TEST_CASE("a 1000-node instance gets a feasible plan from an iteration budget alone", "[planner]") {
  const PlanningInstance in = FamilyInstance(Family::kPipeEdge, 1000, 48, 1, ObjectiveKind::kLatency);
  PlannerOptions o;
  o.max_dp_labels = 2'000'000;
  const PlanResult r = Plan(in, o);
  REQUIRE(r.status != PlanStatus::kInfeasible);
  CHECK(Evaluate(in, r.stages).feasible);
  CHECK(r.lower_bound <= r.value);
}
