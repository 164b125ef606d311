// Constructive plans: the two benchmark baselines and cheap incumbents for the exact search.
// All are O(n log n + n*L) or so and return an empty plan when they find nothing feasible.
#pragma once

#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::planner {

// Baseline 1: the model cut into k equal layer counts over the k fastest nodes (by whole-model
// compute time), the fastest first; a trusted node is moved to the front when the trusted
// prefix needs one. The best k in [1, max_stages] is returned.
std::vector<IStage> EvenSplitBaseline(const CompiledInstance& ci);

// Baseline 2: greedy. From the source, repeatedly give the unused linked node with the lowest
// cost per layer (transfer in + compute, for the objective) as many layers as its memory
// allows. Myopic about links, which is why it collapses when bandwidth is scarce.
std::vector<IStage> GreedyBaseline(const CompiledInstance& ci);

// The best plan that runs every layer on one node.
std::vector<IStage> BestSingleNode(const CompiledInstance& ci);

}  // namespace edgesplit::planner
