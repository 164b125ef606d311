// The utilisation term: waits, loaded prices, and PlanForLoad against an enumeration of every
// plan priced by its response time.
#include <algorithm>
#include <numeric>

#include <catch.hpp>

#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/load_model.h"

using namespace edgesplit::planner;

namespace {

// Every plan over distinct nodes and every composition of the layers, priced by EvaluateLoaded.
double MinResponse(const PlanningInstance& in, double rate) {
  const int n = static_cast<int>(in.nodes.size()), L = static_cast<int>(in.model.layers.size());
  double best = kInf;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Subsets as ordered prefixes of permutations; cuts as bitmasks over the L-1 gaps.
  do {
    for (int k = 1; k <= std::min(n, L); ++k) {
      for (uint32_t cuts = 0; cuts < (1u << (L - 1)); ++cuts) {
        if (__builtin_popcount(cuts) != k - 1) continue;
        std::vector<Stage> st;
        int first = 0, s = 0;
        for (int l = 1; l <= L; ++l) {
          if (l == L || (cuts >> (l - 1) & 1)) {
            st.push_back({in.nodes[order[s]].name, first, l});
            first = l;
            ++s;
          }
        }
        const LoadedCost c = EvaluateLoaded(in, st, rate);
        if (c.feasible) best = std::min(best, c.response_ms);
      }
    }
  } while (std::next_permutation(order.begin(), order.end()));
  return best;
}

std::function<PlannerOptions()> Defaults() {
  return [] { return PlannerOptions{}; };
}

}  // namespace

TEST_CASE("M/D/1 waits: none idle, rho*s/(2(1-rho)) under load, finite when saturated", "[planner]") {
  CHECK(WaitMs(10, 0) == 0);
  CHECK(WaitMs(0, 100) == 0);
  CHECK(WaitMs(10, 50) == Approx(0.5 * 10 / (2 * 0.5)));  // rho = 0.5
  const double saturated = WaitMs(10, 1000);               // rho = 10
  CHECK(std::isfinite(saturated));
  CHECK(saturated == Approx(WaitMs(10, 98)));  // priced at kSaturatedUtilisation
  CHECK(saturated > 40 * WaitMs(10, 50));  // 245 ms against 5 ms
}

TEST_CASE("a loaded plan adds each stage's and hop's wait to its latency", "[planner]") {
  PlanningInstance in;
  in.model.input_bytes = 1000;
  in.model.layers = {{"a", 20, 100, 1000}, {"b", 20, 100, 1000}};
  in.nodes = {{"s", 1.0, 1e9, true, {}}, {"g", 1.0, 1e9, false, {}}};
  in.links.pairs = {{"s", "g", {8.0, 1.0}, true}};  // 1000 bytes: 1 ms of bandwidth + 1 ms latency
  in.source = "s";
  const std::vector<Stage> split = {{"s", 0, 1}, {"g", 1, 2}};
  const LoadedCost idle = EvaluateLoaded(in, split, 0);
  REQUIRE(idle.feasible);
  CHECK(idle.wait_ms == 0);
  CHECK(idle.response_ms == Approx(idle.latency_ms));
  CHECK(idle.latency_ms == Approx(20 + 2 + 20 + 2));
  const LoadedCost busy = EvaluateLoaded(in, split, 25);  // compute rho = 0.5, hops rho = 0.025
  REQUIRE(busy.feasible);
  CHECK(busy.utilisation == Approx(0.5));
  CHECK(busy.wait_ms == Approx(2 * WaitMs(20, 25) + 2 * WaitMs(1, 25)));
  CHECK(busy.response_ms == Approx(busy.latency_ms + busy.wait_ms));
  // A cap on the instance does not change the plan's price (it is not part of the plan).
  in.constraints.max_period_ms = 5;
  CHECK(EvaluateLoaded(in, split, 25).response_ms == Approx(busy.response_ms));
  const LoadedCost bad = EvaluateLoaded(in, {{"x", 0, 2}}, 25);
  CHECK_FALSE(bad.feasible);
  CHECK(bad.violation == "unknown node 'x' in plan");
}

TEST_CASE("PlanForLoad keeps one node when idle and splits when one node would saturate", "[planner]") {
  PlanningInstance in;
  in.model.input_bytes = 1000;
  in.model.layers = {{"a", 30, 100, 1000}, {"b", 30, 100, 1000}, {"c", 30, 100, 1000}};
  in.nodes = {{"s", 1.0, 1e9, true, {}}, {"g", 1.0, 1e9, false, {}}, {"h", 1.0, 1e9, false, {}}};
  in.links.default_link = LinkSpec{1000, 2.0};
  in.source = "s";
  in.constraints.pinned[0] = "s";
  const LoadedPlan idle = PlanForLoad(in, Defaults(), 0, 0.85);
  REQUIRE(idle.plan.status == PlanStatus::kOptimal);
  CHECK(idle.plan.stages.size() == 1);  // 90 ms on s, no hop
  CHECK(idle.why == "latency-optimal");
  // 10 passes/s: 90 ms on one node is rho 0.9, waits of 405 ms; three stages of 30 ms wait 6.4 ms each.
  const LoadedPlan busy = PlanForLoad(in, Defaults(), 10, 0.85);
  REQUIRE(busy.plan.status != PlanStatus::kInfeasible);
  CHECK(busy.plan.stages.size() == 3);
  CHECK(busy.cost.utilisation <= 0.85);
  CHECK(busy.cost.response_ms < EvaluateLoaded(in, idle.plan.stages, 10).response_ms);
  CHECK(busy.cost.response_ms == Approx(MinResponse(in, 10)));
  // Other objectives are planned as they are.
  in.objective = {ObjectiveKind::kPeriod, 1, 1};
  const LoadedPlan per = PlanForLoad(in, Defaults(), 10, 0.85);
  CHECK(per.why == "latency-optimal");  // the label of the plain Plan() call
  CHECK(per.period_cap_ms == 0);
}

TEST_CASE("PlanForLoad against every plan priced by its response time, tiny instances", "[planner]") {
  // The candidates are exact for their caps; the choice among them is a model. Measured over
  // these seeds when it was written: 1074 of 1111 found the least response time, 1097 within
  // 10 %, the worst 1.81x. Checked with some room (the seeds are fixed, the result is too).
  int loaded = 0, exact = 0, within_10 = 0;
  double worst = 1;
  for (uint64_t seed = 60000; seed < 61500; ++seed) {
    PlanningInstance in = RandomTinyInstance(seed, 4, 5);
    in.objective = {ObjectiveKind::kLatency, 1, 1};
    in.current_plan.reset();
    in.migration.reset();
    const PlanResult free = Plan(in);
    if (free.status == PlanStatus::kInfeasible || !(free.period_ms > 0)) continue;
    // A rate that puts the latency-optimal plan's busiest resource at 0.3 - 1.5.
    const double rho = 0.3 + 1.2 * static_cast<double>(seed % 13) / 12.0;
    const double rate = rho * 1000.0 / free.period_ms;
    const LoadedPlan lp = PlanForLoad(in, Defaults(), rate, 0.85);
    INFO("seed " << seed << " rate " << rate);
    REQUIRE(lp.plan.status != PlanStatus::kInfeasible);
    REQUIRE(lp.cost.feasible);
    // Never worse than the plain latency-optimal plan under the same load.
    CHECK(lp.cost.response_ms <= EvaluateLoaded(in, free.stages, rate).response_ms * (1 + 1e-9));
    const double best = MinResponse(in, rate);
    REQUIRE(best <= lp.cost.response_ms * (1 + 1e-9));
    ++loaded;
    const double ratio = lp.cost.response_ms / best;
    exact += ratio <= 1 + 1e-9 ? 1 : 0;
    within_10 += ratio <= 1.1 ? 1 : 0;
    worst = std::max(worst, ratio);
  }
  INFO("loaded " << loaded << " exact " << exact << " within 10% " << within_10 << " worst " << worst);
  CHECK(loaded > 800);
  CHECK(exact >= 0.9 * loaded);
  CHECK(within_10 >= 0.95 * loaded);
  WARN("PlanForLoad: " << exact << "/" << loaded << " least response, " << within_10 << " within 10 %, worst x" << worst);
}
