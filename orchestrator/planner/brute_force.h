// Reference solver for tests and benchmarks: enumerates every ordered choice of distinct nodes
// and every composition of the layers, O(sum_k n!/(n-k)! * C(L-1, k-1)) plans, each priced by
// CompiledInstance::EvaluateIndex (the cost model, independent of the DP code). Tiny only.
#pragma once

#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::planner {

struct BruteForceResult {
  bool feasible = false;
  double value = kInf;
  std::vector<IStage> stages;
  long long plans = 0;  // plans enumerated
};

BruteForceResult SolveBruteForce(const CompiledInstance& ci);

}  // namespace edgesplit::planner
