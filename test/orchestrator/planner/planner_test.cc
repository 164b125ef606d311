// The planner against brute force on thousands of random tiny instances: all three
// objectives, memory, trust, missing/asymmetric links, max_stages, pins and re-planning.
#include <catch.hpp>

#include "orchestrator/planner/brute_force.h"
#include "orchestrator/planner/exact_solver.h"
#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/lower_bound.h"
#include "orchestrator/planner/period_solver.h"
#include "orchestrator/planner/planner.h"
#include "orchestrator/planner/threshold_search.h"

using namespace edgesplit::planner;

namespace {

bool Close(double a, double b) { return std::abs(a - b) <= 1e-7 * std::max({1.0, std::abs(a), std::abs(b)}); }

PeriodResult SolvePeriodForTest(const CompiledInstance& ci, const std::vector<int>& cand) {
  return SolveMinPeriod(ci, cand, 0, kInf);
}

}  // namespace

TEST_CASE("exact planner matches brute force on random tiny instances", "[planner]") {
  int feasible = 0, infeasible = 0, by_kind[3] = {0, 0, 0};
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed);
    REQUIRE(ValidateInstance(in).ok());
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    const PlanResult r = Plan(in);
    INFO("seed " << seed << " reason " << r.reason);
    if (!bf.feasible) {
      ++infeasible;
      CHECK(r.status == PlanStatus::kInfeasible);
      CHECK_FALSE(r.reason.empty());
      continue;
    }
    ++feasible;
    ++by_kind[static_cast<int>(in.objective.kind)];
    REQUIRE(r.status == PlanStatus::kOptimal);
    CHECK(Close(r.value, bf.value));
    CHECK(r.lower_bound <= r.value + 1e-9);
    const PlanCost c = Evaluate(in, r.stages);
    REQUIRE(c.feasible);
    CHECK(Close(c.value, r.value));
  }
  CHECK(feasible > 1000);
  CHECK(infeasible > 100);
  for (int k : by_kind) CHECK(k > 200);
}

TEST_CASE("the relaxed lower bound never exceeds the optimum", "[planner]") {
  for (uint64_t seed = 5000; seed < 6500; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 5, 7);
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    const RelaxedBounds rb = ComputeRelaxedBounds(ci);
    INFO("seed " << seed);
    if (bf.feasible) CHECK(rb.lower_bound <= bf.value * (1 + 1e-9) + 1e-12);
  }
}

TEST_CASE("beam DP and the large-instance path return feasible plans no better than optimal", "[planner]") {
  for (uint64_t seed = 7000; seed < 7600; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 5, 7);
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    PlannerOptions o;
    o.exact_max_nodes = 0;  // force candidate pruning + beam + local search
    o.candidate_nodes = 3;
    o.beam_width = 4;
    const PlanResult r = Plan(in, o);
    INFO("seed " << seed << " reason " << r.reason);
    if (!bf.feasible) {
      CHECK(r.status == PlanStatus::kInfeasible);
      continue;
    }
    if (r.status == PlanStatus::kInfeasible) continue;  // heuristics may miss; never claim a plan falsely
    const PlanCost c = Evaluate(in, r.stages);
    REQUIRE(c.feasible);
    CHECK(c.value >= bf.value * (1 - 1e-9) - 1e-12);
    CHECK(r.lower_bound <= bf.value * (1 + 1e-9) + 1e-12);
    if (r.status == PlanStatus::kOptimal) CHECK(Close(r.value, bf.value));
  }
}

TEST_CASE("exact DP agrees with brute force on 6-node instances", "[planner]") {
  for (uint64_t seed = 9000; seed < 9060; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 6, 6);
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    const PlanResult r = Plan(in);
    INFO("seed " << seed);
    CHECK((r.status == PlanStatus::kInfeasible) == !bf.feasible);
    if (bf.feasible) CHECK(Close(r.value, bf.value));
  }
}

TEST_CASE("re-planning keeps the current plan when nothing is strictly better", "[planner]") {
  PlanningInstance in = RandomTinyInstance(42);
  in.nodes = {{"a", 1.0, 1e12, true, {}}, {"b", 1.0, 1e12, true, {}}};
  in.links = {};
  in.links.default_link = LinkSpec{100, 1};
  in.source = "a";
  in.constraints = {};
  in.objective = {};
  in.current_plan = CurrentPlan{{{"b", 0, static_cast<int>(in.model.layers.size())}}};
  in.migration = MigrationOptions{1, 1};  // moving weights is very expensive
  PlanResult r = Plan(in);
  REQUIRE(r.status == PlanStatus::kOptimal);
  CHECK(r.kept_current);
  CHECK(r.migration_ms == 0);
  CHECK(r.stages == in.current_plan->stages);
}

TEST_CASE("infeasible instances name the binding constraint", "[planner]") {
  PlanningInstance in;
  in.model.layers = {{"a", 1, 1000, 10}, {"b", 1, 1000, 10}};
  in.nodes = {{"s", 1, 100, false, {}}, {"t", 1, 1e9, false, {}}};
  in.links.default_link = LinkSpec{100, 1};
  in.source = "s";
  in.constraints.trusted_prefix_layers = 2;
  in.nodes[0].memory_bytes = 100;  // the source (trusted by definition) is too small
  PlanResult r = Plan(in);
  CHECK(r.status == PlanStatus::kInfeasible);
  CHECK(r.reason == "trusted_prefix_layers: no trusted node can hold layers 0-1");
  in.constraints.trusted_prefix_layers = 0;
  in.nodes[1].memory_bytes = 500;
  r = Plan(in);
  CHECK(r.reason.rfind("memory: no node can hold layer 0", 0) == 0);
  in.nodes[1].memory_bytes = 1e9;
  in.constraints.max_stages = 1;
  in.nodes[1].memory_bytes = 1100;
  in.nodes.push_back({"u", 1, 1100, false, {}});
  r = Plan(in);
  CHECK(r.reason.rfind("max_stages: at least 2 stages", 0) == 0);
}

TEST_CASE("the bitmask DP alone, without an incumbent, finds the brute-force optimum", "[planner]") {
  int checked = 0;
  for (uint64_t seed = 20000; seed < 22000; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 5, 6);
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    const RelaxedBounds rb = ComputeRelaxedBounds(ci);
    std::vector<int> all(ci.num_nodes());
    for (int v = 0; v < ci.num_nodes(); ++v) all[v] = v;
    const DpResult d = SolveDp(ci, rb, all, kInf, {});
    INFO("seed " << seed);
    REQUIRE(d.complete);
    CHECK(d.improved == bf.feasible);
    if (!bf.feasible || !d.improved) continue;
    ++checked;
    CHECK(Close(d.value, bf.value));
    const PlanCost c = ci.EvaluateIndex(d.stages);
    REQUIRE(c.feasible);
    CHECK(Close(c.value, bf.value));
  }
  CHECK(checked > 800);
}

TEST_CASE("the period threshold search alone finds the brute-force minimum period", "[planner]") {
  int checked = 0;
  for (uint64_t seed = 30000; seed < 31500; ++seed) {
    PlanningInstance in = RandomTinyInstance(seed, 5, 6);
    in.objective = {ObjectiveKind::kPeriod, 1, 1};
    in.migration.reset();
    const CompiledInstance ci(in);
    const BruteForceResult bf = SolveBruteForce(ci);
    std::vector<int> all(ci.num_nodes());
    for (int v = 0; v < ci.num_nodes(); ++v) all[v] = v;
    const PeriodResult pr = SolvePeriodForTest(ci, all);
    INFO("seed " << seed);
    REQUIRE(pr.complete);
    CHECK(pr.feasible == bf.feasible);
    if (!bf.feasible || !pr.feasible) continue;
    ++checked;
    CHECK(Close(pr.period, bf.value));
    const PlanCost c = ci.EvaluateIndex(pr.stages);
    REQUIRE(c.feasible);
    CHECK(Close(c.period_ms, bf.value));
  }
  CHECK(checked > 600);
}

TEST_CASE("the period-threshold branch and bound alone finds the brute-force optimum", "[planner]") {
  int checked = 0;
  for (uint64_t seed = 40000; seed < 41500; ++seed) {
    PlanningInstance in = RandomTinyInstance(seed, 5, 6);
    if (in.objective.kind == ObjectiveKind::kLatency) in.objective = {ObjectiveKind::kMixed, 0.7, 2.0};
    const CompiledInstance ci(in);
    if (ci.B() == 0 || ci.s_trivial()) continue;
    const BruteForceResult bf = SolveBruteForce(ci);
    const RelaxedBounds rb = ComputeRelaxedBounds(ci);
    std::vector<int> all(ci.num_nodes());
    for (int v = 0; v < ci.num_nodes(); ++v) all[v] = v;
    double best = kInf;
    std::vector<IStage> plan;
    const ThresholdSearchResult ts = SolveByPeriodThresholds(
        ci, rb, all, 0.0, kInf,
        [&](const std::vector<IStage>& st) {
          const double v = ci.EvaluateIndex(st).value;
          if (v < best) best = v, plan = st;
          return best;
        },
        {});
    INFO("seed " << seed);
    REQUIRE(ts.complete);
    CHECK((best < kInf) == bf.feasible);
    if (!bf.feasible) continue;
    ++checked;
    CHECK(Close(best, bf.value));
    CHECK(ci.EvaluateIndex(plan).feasible);
  }
  CHECK(checked > 300);
}

TEST_CASE("re-planning moves when the gain over the horizon pays for the weights", "[planner]") {
  PlanningInstance in;
  in.model.layers = {{"a", 10, 1e6, 1000}, {"b", 10, 1e6, 1000}};
  in.nodes = {{"src", 1.0, 1e9, true, {}}, {"fast", 10.0, 1e9, true, {}}};
  in.links.default_link = LinkSpec{1000, 0.1};
  in.source = "src";
  in.current_plan = CurrentPlan{{{"src", 0, 2}}};
  // Moving both layers to `fast` saves ~18 ms per request and costs 2 MB at 8 Mbps = 2000 ms.
  in.migration = MigrationOptions{8, 10};  // amortised 200 ms per request: stay
  PlanResult r = Plan(in);
  CHECK(r.kept_current);
  in.migration = MigrationOptions{8, 1000};  // amortised 2 ms per request: move
  r = Plan(in);
  CHECK_FALSE(r.kept_current);
  CHECK(r.stages.back().node == "fast");
  CHECK(r.migration_ms == Approx(2000).epsilon(0.01));
}
