// The fixed-cuts assignment solver (the migration move) against brute force over every ordered
// choice of distinct nodes, on thousands of random tiny instances (all objectives, memory,
// trust, missing links, pins, re-planning terms).
#include <algorithm>
#include <random>

#include <catch.hpp>

#include "orchestrator/planner/assignment.h"
#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/planner.h"

using namespace edgesplit::planner;

namespace {

bool Close(double a, double b) { return std::abs(a - b) <= 1e-7 * std::max({1.0, std::abs(a), std::abs(b)}); }

// Every ordered choice of distinct nodes for the ranges, each priced by the cost model.
struct Brute {
  bool feasible = false;
  double value = kInf;
};
void Enumerate(const CompiledInstance& ci, const std::vector<std::pair<int, int>>& ranges, std::vector<IStage>& st,
               std::vector<char>& used, Brute& out) {
  if (st.size() == ranges.size()) {
    PlanCost c = ci.EvaluateIndex(st);
    if (c.feasible && c.value < out.value) out.feasible = true, out.value = c.value;
    return;
  }
  const auto [i, j] = ranges[st.size()];
  for (int v = 0; v < ci.num_nodes(); ++v) {
    if (used[v]) continue;
    used[v] = 1;
    st.push_back({v, i, j});
    Enumerate(ci, ranges, st, used, out);
    st.pop_back();
    used[v] = 0;
  }
}

std::vector<std::pair<int, int>> RandomCuts(std::mt19937_64& rng, int layers, int stages) {
  std::vector<int> cuts;
  for (int c = 1; c < layers; ++c) cuts.push_back(c);
  std::shuffle(cuts.begin(), cuts.end(), rng);
  cuts.resize(std::min<int>(stages - 1, static_cast<int>(cuts.size())));
  std::sort(cuts.begin(), cuts.end());
  std::vector<std::pair<int, int>> out;
  int prev = 0;
  for (int c : cuts) out.emplace_back(prev, c), prev = c;
  out.emplace_back(prev, layers);
  return out;
}

}  // namespace

TEST_CASE("fixed-cuts assignment matches brute force on random tiny instances", "[planner][assignment]") {
  int feasible = 0, infeasible = 0;
  std::mt19937_64 rng(7);
  for (uint64_t seed = 1; seed <= 3000; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed, 6, 7);
    const CompiledInstance ci(in);
    const int layers = ci.num_layers();
    const int stages = 1 + static_cast<int>(rng() % std::min(ci.num_nodes(), layers));
    const auto ranges = RandomCuts(rng, layers, stages);
    Brute bf;
    std::vector<IStage> st;
    std::vector<char> used(ci.num_nodes(), 0);
    Enumerate(ci, ranges, st, used, bf);
    const PlanResult r = AssignNodes(in, ranges);
    INFO("seed " << seed << " stages " << ranges.size() << " reason " << r.reason);
    if (!bf.feasible) {
      ++infeasible;
      CHECK(r.status == PlanStatus::kInfeasible);
      CHECK_FALSE(r.reason.empty());
      continue;
    }
    ++feasible;
    REQUIRE(r.status == PlanStatus::kOptimal);
    CHECK(Close(r.value, bf.value));
    CHECK(RangesOf(r.stages) == ranges);
    const PlanCost c = Evaluate(in, r.stages);
    REQUIRE(c.feasible);
    CHECK(Close(c.value, r.value));
    // The free planner can only do as well or better than any fixed cuts.
    const PlanResult free = Plan(in);
    REQUIRE(free.status == PlanStatus::kOptimal);
    CHECK(free.value <= r.value + 1e-7 * std::max(1.0, r.value));
  }
  CHECK(feasible > 800);
  CHECK(infeasible > 100);
}

TEST_CASE("fixed-cuts assignment rejects malformed cuts with a reason", "[planner][assignment]") {
  const PlanningInstance in = RandomTinyInstance(3, 4, 6);
  const int L = static_cast<int>(in.model.layers.size());
  for (const auto& bad : std::vector<std::vector<std::pair<int, int>>>{
           {}, {{0, L - 1}}, {{1, L}}, {{0, 2}, {3, L}}, {{0, 0}, {0, L}}, {{0, L + 1}}}) {
    const PlanResult r = AssignNodes(in, bad);
    CHECK(r.status == PlanStatus::kInfeasible);
    CHECK(r.reason.rfind("cuts:", 0) == 0);
  }
}

TEST_CASE("a search cut short by its budget reports a feasible plan and a bound below it", "[planner][assignment]") {
  const PlanningInstance in = FamilyInstance(Family::kPipeEdge, 100, 12, 5, ObjectiveKind::kLatency);
  const std::vector<std::pair<int, int>> ranges = {{0, 3}, {3, 6}, {6, 9}, {9, 12}};
  AssignmentOptions small;
  small.max_expansions = 500;
  const PlanResult r = AssignNodes(in, ranges, small);
  REQUIRE(r.status == PlanStatus::kFeasible);
  CHECK(r.lower_bound <= r.value);
  CHECK(RangesOf(r.stages) == ranges);
  const PlanResult full = AssignNodes(in, ranges);
  REQUIRE(full.status != PlanStatus::kInfeasible);
  CHECK(full.value <= r.value + 1e-9);
}
