// Local search over complete plans: shift a cut, replace a stage's node by an unused one, swap
// two stages' nodes, merge two adjacent stages, split a stage onto a new node. Moves are
// applied first-improvement until a local optimum, the round limit or the time budget.
// Each round costs O(k^2*L + k*n*k + k*L*P*k) for k stages, n nodes, P split candidates.
#pragma once

#include <functional>
#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::planner {

struct LocalSearchOptions {
  int max_rounds = 50;
  std::vector<int> split_pool;        // nodes tried by the split move (all nodes when empty and n <= 64)
  std::function<bool()> out_of_time;  // may be empty
};

// Objective value of a plan, kInf when infeasible. O(k^2) for k stages, allocation-free.
double PlanValue(const CompiledInstance& ci, const std::vector<IStage>& st);

// Returns a plan at least as good as `plan` (which must be feasible).
std::vector<IStage> ImprovePlan(const CompiledInstance& ci, std::vector<IStage> plan, const LocalSearchOptions& options);

}  // namespace edgesplit::planner
