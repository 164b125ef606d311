// Joint node selection and layer partitioning: the entry point Plan().
//
// Problem: choose an ordered list of distinct nodes and cut points (contiguous layer ranges)
// minimising latency, period or alpha*latency + beta*period (+ amortised migration cost when
// re-planning) under memory, trusted-prefix, link, max_stages and pin constraints. NP-hard in
// general (free-order chain partitioning).
//
// Algorithm (n candidate nodes, L layers):
//  1. Reuse-relaxed DP (lower_bound.h): the same chain DP without the "each node once" and
//     "max_stages" constraints, O(n*L^2 + n^2*L), computed backward (cost-to-go h(v, j)) and
//     forward. Its optimum is a proven lower bound; for period/mixed it is combined with a
//     memory-aware fluid bound. It also proves infeasibility and names the binding constraint.
//  2. Incumbents (heuristic_solver.h): the relaxed optimum when it happens to use distinct
//     nodes, greedy, even split over the k fastest nodes, and the current plan (re-planning).
//  3. Exact bitmask DP (exact_solver.h), EdgeShard-style but with labels (S, M) kept Pareto-
//     optimal per state (last node, used-node mask, layers done): O(2^n * n * L * (n + L))
//     label operations, pruned by the incumbent and the admissible relaxed cost-to-go (A*-like).
//     When it completes over all usable nodes the result is "optimal" (lower_bound = value).
//  4. Beyond exact_max_nodes usable nodes: candidate pruning (nodes ranked by the best relaxed
//     plan through them), the same DP over the candidates with a per-layer beam, then local
//     search over all nodes (local_search.h: shift a cut, replace a node by an unused one, swap
//     two stages' nodes), all within the time budget. Status "feasible" unless value meets the
//     lower bound.
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
  // Milliseconds since Plan() started; injected so the pure planner never reads a clock. When
  // empty, the planner uses only its iteration budgets (tests, deterministic runs).
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
