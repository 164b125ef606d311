// Best node assignment for fixed cut points: the "migration" move of DESIGN.md (same cuts, other
// nodes). The full planner answers "which cuts and which nodes"; the migration policy also needs
// "with the cuts we have, which nodes" to tell a migration from a re-split worth its extra cost.
//
// Algorithm: depth-first branch and bound over the stages in order, each stage trying the
// unused nodes that can hold its range (memory, trust, pins, a link from the previous node),
// cheapest compute first. A partial assignment is pruned when
//   A*(its latency so far + sum over later stages of their cheapest compute)
//   + B*max(its period so far, the largest cheapest compute of a later stage) + its migration
// reaches the incumbent; every term is a cost the completion must still pay, so the bound is
// proven. Leaves are priced by CompiledInstance::EvaluateIndex (the one cost model).
// Worst case n!/(n-k)! leaves for k stages over n nodes; bounded by `max_expansions`. A search
// that finishes is "optimal" among same-cut plans (lower_bound = value); one cut short by the
// budget is "feasible" with the root bound as lower_bound. Pure, deterministic.
#pragma once

#include <utility>
#include <vector>

#include "orchestrator/planner/planner.h"

namespace edgesplit::planner {

struct AssignmentOptions {
  long long max_expansions = 2'000'000;  // search nodes visited before giving up on a proof
};

// `ranges` are the [first_layer, end_layer) of each stage, in order, covering the model.
// Status infeasible (with the binding reason) when no assignment exists or the ranges or the
// instance are malformed.
PlanResult AssignNodes(const PlanningInstance& instance, const std::vector<std::pair<int, int>>& ranges,
                       const AssignmentOptions& options = {});

// The ranges of a plan, for AssignNodes.
std::vector<std::pair<int, int>> RangesOf(const std::vector<Stage>& stages);

}  // namespace edgesplit::planner
