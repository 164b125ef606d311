#include "orchestrator/planner/brute_force.h"

namespace edgesplit::planner {
namespace {

void Recurse(const CompiledInstance& ci, std::vector<IStage>& st, std::vector<char>& used, BruteForceResult& out) {
  const int L = ci.num_layers();
  const int j = st.empty() ? 0 : st.back().end;
  if (j == L) {
    ++out.plans;
    PlanCost c = ci.EvaluateIndex(st);
    if (c.feasible && c.value < out.value) {
      out.feasible = true;
      out.value = c.value;
      out.stages = st;
    }
    return;
  }
  if (static_cast<int>(st.size()) >= ci.num_nodes()) return;
  for (int w = 0; w < ci.num_nodes(); ++w) {
    if (used[w]) continue;
    used[w] = 1;
    for (int k = j + 1; k <= L; ++k) {
      st.push_back({w, j, k});
      Recurse(ci, st, used, out);
      st.pop_back();
    }
    used[w] = 0;
  }
}

}  // namespace

BruteForceResult SolveBruteForce(const CompiledInstance& ci) {
  BruteForceResult out;
  std::vector<IStage> st;
  std::vector<char> used(ci.num_nodes(), 0);
  Recurse(ci, st, used, out);
  return out;
}

}  // namespace edgesplit::planner
