// Joint node selection and layer partitioning: the entry point Plan().
//
// Problem: choose an ordered list of distinct nodes and cut points (contiguous layer ranges)
// minimising latency, period or alpha*latency + beta*period (+ amortised migration cost when
// re-planning) under memory, trusted-prefix, link, max_stages and pin constraints. NP-hard in
// general (free-order chain partitioning).
//
// Algorithm (n usable nodes, L layers, m <= 13 DP candidates; value = S + B*M, S the sum part,
// M the period part):
//  1. Reuse-relaxed DP (lower_bound.h): the chain DP without "each node once" and
//     "max_stages", backward cost-to-go h(v, j) for S and for M, O(n*L^2 + n^2*L). S* + B*M*
//     is a proven lower bound; for the period a fluid bound (node speeds, memory, max_stages,
//     the connected component of fast-enough links) is added. It proves "no linked chain".
//     Cheaper checks before it name the binding constraint of infeasible instances.
//  2. Incumbents (heuristic_solver.h): the relaxed optimum when its nodes are distinct (then
//     optimal: the common case for latency), best single node, greedy, even split, the current
//     plan (re-planning); polished by local search (local_search.h).
//  3. n <= exact_max_nodes: exact search over all usable nodes.
//     latency: bitmask label DP (exact_solver.h), states (layers done, used mask, last node),
//       O(2^n * n * L * (n + L)) label operations worst case, pruned by incumbent + h (A*) and
//       by one-node-fewer subset dominance.
//     period: threshold search (period_solver.h): "period <= T possible" is bitset
//       reachability over masks, O(L * n * (n + L) * 2^n / 64) per check, binary search over the
//       O(n*L^2 + n^2*L) candidate values of T.
//     mixed (and period with migration): branch and bound over period-threshold intervals, each
//       split by an S-only DP with every period term capped (Alpa-style), run with rising
//       targets, narrow intervals closed by one capped mixed DP, a distinct-node bound added
//       under the cap (threshold_search.h), floored by the exact minimum period.
//     A search that ends within its budget proves optimality ("optimal", lower_bound = value).
//  4. n > exact_max_nodes: nodes ranked by the best relaxed plan through them (forward pass,
//     O(n*L^2 + n^2*L)); rounds over m candidates (alternately a well-linked neighbourhood of a
//     top node and the next best-ranked nodes, always with the incumbent's and pinned nodes):
//     beam-limited label DP (period: the exact threshold search over the candidates; mixed:
//     the exact search of step 3 on the candidates' sub-instance), then
//     local search over all nodes (shift a cut, replace/swap/merge/split nodes), within the
//     time budget (searches stop at 55 %, local search at 75 % of time_limit_ms). For mixed
//     (n <= 200) the bound is tightened jointly over a grid of 8 period caps
//     (lower_bound.h PeriodGridBound). "optimal" only when the value meets the lower bound.
// Determinism: given the same instance, options and elapsed_ms readings the result is the same.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orchestrator/planner/cost_model.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::planner {

struct PlannerOptions {
  double time_limit_ms = 1000;
  // Milliseconds since Plan() started; injected so the pure planner never reads a clock.
  // Callers with a deadline should set it. When empty, the planner is deterministic and uses
  // only iteration budgets, the DP's scaled to time_limit_ms (10k label operations per ms).
  std::function<double()> elapsed_ms;
  int exact_max_nodes = 12;        // usable nodes up to this: exact bitmask DP
  int candidate_nodes = 12;        // candidates kept for the DP beyond exact_max_nodes
  int beam_width = 4000;           // states kept per layer in the candidate DP (0 = exact)
  long long max_dp_labels = 60'000'000;  // iteration budget of the DP (label operations)
  int local_search_rounds = 50;
};

enum class PlanStatus { kOptimal, kFeasible, kInfeasible };
const char* PlanStatusName(PlanStatus s);  // "optimal" | "feasible" | "infeasible"

struct PlanResult {
  PlanStatus status = PlanStatus::kInfeasible;
  ObjectiveKind objective = ObjectiveKind::kLatency;
  double value = kInf;         // objective value (with amortised migration when re-planning)
  double latency_ms = kInf;
  double period_ms = kInf;
  double lower_bound = 0;      // proven: no feasible plan has a smaller value
  std::vector<Stage> stages;
  double solve_ms = 0;         // filled from elapsed_ms when given
  double migration_ms = 0;     // total weight fetch time of the chosen plan (re-planning)
  bool kept_current = false;   // re-planning chose the current plan
  std::string reason;          // infeasible: the binding constraint; otherwise how it was solved
};

// Plans `instance` (which must pass ValidateInstance; otherwise status infeasible with the
// validation message as reason).
PlanResult Plan(const PlanningInstance& instance, const PlannerOptions& options = {});

}  // namespace edgesplit::planner
