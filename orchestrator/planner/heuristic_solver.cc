#include "orchestrator/planner/heuristic_solver.h"

#include <algorithm>
#include <numeric>

namespace edgesplit::planner {

std::vector<IStage> EvenSplitBaseline(const CompiledInstance& ci) {
  const int n = ci.num_nodes(), L = ci.num_layers();
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return ci.Compute(a, 0, L) < ci.Compute(b, 0, L); });
  std::vector<IStage> best;
  double best_val = kInf;
  const int kmax = std::min({ci.max_stages(), n, L});
  for (int k = 1; k <= kmax; ++k) {
    std::vector<int> nodes(order.begin(), order.begin() + k);
    if (ci.trusted_prefix() > 0 && !ci.trusted(nodes[0])) {
      auto it = std::find_if(nodes.begin(), nodes.end(), [&](int v) { return ci.trusted(v); });
      if (it != nodes.end()) std::rotate(nodes.begin(), it, it + 1);
    }
    std::vector<IStage> st;
    for (int s = 0; s < k; ++s) st.push_back({nodes[s], s * L / k, (s + 1) * L / k});
    PlanCost c = ci.EvaluateIndex(st);
    if (c.feasible && c.value < best_val) best_val = c.value, best = st;
  }
  return best;
}

std::vector<IStage> GreedyBaseline(const CompiledInstance& ci) {
  const int n = ci.num_nodes(), L = ci.num_layers();
  const double A = ci.A(), B = ci.B();
  std::vector<bool> used(n, false);
  std::vector<IStage> st;
  int prev = ci.source(), j = 0;
  while (j < L) {
    const bool last = static_cast<int>(st.size()) + 1 >= ci.max_stages();
    double best = kInf;
    int bw = -1, be = -1;
    for (int w = 0; w < n; ++w) {
      if (used[w] || !ci.StartAllowed(w, j) || !ci.HasLink(prev, w)) continue;
      int e = ci.MaxEnd(w, j);
      if (ci.pin_lo(w) < ci.pin_hi(w) && (ci.pin_lo(w) < j || e < ci.pin_hi(w))) continue;
      if (e <= j || (last && e < L)) continue;
      const double comp = ci.Compute(w, j, e);
      double cost = A * (ci.Transfer(prev, w, ci.act(j)) + comp) + B * std::max(ci.BwTime(prev, w, ci.act(j)), comp) +
                    ci.Migration(w, j, e);
      cost /= (e - j);
      if (cost < best) best = cost, bw = w, be = e;
    }
    if (bw < 0) return {};
    st.push_back({bw, j, be});
    used[bw] = true;
    prev = bw;
    j = be;
  }
  if (!ci.EvaluateIndex(st).feasible) return {};
  return st;
}

std::vector<IStage> BestSingleNode(const CompiledInstance& ci) {
  std::vector<IStage> best;
  double best_val = kInf;
  for (int v = 0; v < ci.num_nodes(); ++v) {
    if (ci.MaxEnd(v, 0) < ci.num_layers()) continue;
    std::vector<IStage> st{{v, 0, ci.num_layers()}};
    PlanCost c = ci.EvaluateIndex(st);
    if (c.feasible && c.value < best_val) best_val = c.value, best = st;
  }
  return best;
}

}  // namespace edgesplit::planner
