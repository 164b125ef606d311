#include "orchestrator/planner/local_search.h"

#include <algorithm>

namespace edgesplit::planner {

double PlanValue(const CompiledInstance& ci, const std::vector<IStage>& st) {
  const int k = static_cast<int>(st.size()), L = ci.num_layers(), src = ci.source();
  if (k == 0 || k > ci.max_stages()) return kInf;
  double s = 0, m = 0, lat = 0;
  int prev = src, next = 0;
  for (int a = 0; a < k; ++a) {
    const IStage& x = st[a];
    if (x.first != next || !ci.StageValid(x.node, x.first, x.end)) return kInf;
    for (int b = 0; b < a; ++b)
      if (st[b].node == x.node) return kInf;
    if (!ci.HasLink(prev, x.node)) return kInf;
    const double comp = ci.Compute(x.node, x.first, x.end);
    lat += ci.Transfer(prev, x.node, ci.act(x.first)) + comp;
    m = std::max({m, ci.BwTime(prev, x.node, ci.act(x.first)), comp});
    s += ci.Migration(x.node, x.first, x.end);
    prev = x.node;
    next = x.end;
  }
  if (next != L || !ci.HasLink(prev, src)) return kInf;
  lat += ci.Transfer(prev, src, ci.act(L));
  m = std::max(m, ci.BwTime(prev, src, ci.act(L)));
  if (ci.has_pins())
    for (int v = 0; v < ci.num_nodes(); ++v)
      if (ci.pin_lo(v) < ci.pin_hi(v) &&
          std::none_of(st.begin(), st.end(), [v](const IStage& x) { return x.node == v; }))
        return kInf;
  if (m > ci.period_cap()) return kInf;  // constraints.max_period_ms
  return ci.A() * lat + ci.B() * m + s;
}

std::vector<IStage> ImprovePlan(const CompiledInstance& ci, std::vector<IStage> plan, const LocalSearchOptions& opt) {
  const int n = ci.num_nodes();
  double cur = PlanValue(ci, plan);
  if (cur == kInf) return plan;
  std::vector<int> pool = opt.split_pool;
  if (pool.empty() && n <= 64)
    for (int v = 0; v < n; ++v) pool.push_back(v);
  std::vector<char> used(n, 0);
  auto try_plan = [&](std::vector<IStage>& cand) {
    double v = PlanValue(ci, cand);
    if (v < cur * (1 - 1e-12) - 1e-12) {
      cur = v;
      plan = cand;
      return true;
    }
    return false;
  };
  for (int round = 0; round < opt.max_rounds; ++round) {
    if (opt.out_of_time && opt.out_of_time()) break;
    bool improved = false;
    const int k = static_cast<int>(plan.size());
    // Shift each cut to every position between its neighbours' other ends.
    for (int b = 0; b + 1 < static_cast<int>(plan.size()); ++b) {
      for (int p = plan[b].first + 1; p < plan[b + 1].end; ++p) {
        if (p == plan[b].end) continue;
        auto c = plan;
        c[b].end = p;
        c[b + 1].first = p;
        improved |= try_plan(c);
      }
    }
    // Replace a stage's node by any unused node.
    std::fill(used.begin(), used.end(), 0);
    for (const auto& x : plan) used[x.node] = 1;
    for (int a = 0; a < static_cast<int>(plan.size()); ++a) {
      if (opt.out_of_time && opt.out_of_time()) return plan;
      for (int w = 0; w < n; ++w) {
        if (used[w] || !ci.StageValid(w, plan[a].first, plan[a].end)) continue;
        auto c = plan;
        c[a].node = w;
        if (try_plan(c)) {
          used[c[a].node] = 1;
          std::fill(used.begin(), used.end(), 0);
          for (const auto& x : plan) used[x.node] = 1;
          improved = true;
        }
      }
    }
    // Swap two stages' nodes.
    for (int a = 0; a < static_cast<int>(plan.size()); ++a)
      for (int b = a + 1; b < static_cast<int>(plan.size()); ++b) {
        auto c = plan;
        std::swap(c[a].node, c[b].node);
        improved |= try_plan(c);
      }
    // Merge two adjacent stages onto either node.
    for (int a = 0; a + 1 < static_cast<int>(plan.size()); ++a)
      for (int keep = 0; keep < 2; ++keep) {
        auto c = plan;
        c[a].node = plan[a + keep].node;
        c[a].end = plan[a + 1].end;
        c.erase(c.begin() + a + 1);
        if (try_plan(c)) {
          improved = true;
          break;
        }
      }
    // Split a stage: one part keeps its node, the other goes to a new node.
    if (static_cast<int>(plan.size()) < ci.max_stages()) {
      std::fill(used.begin(), used.end(), 0);
      for (const auto& x : plan) used[x.node] = 1;
      for (int a = 0; a < static_cast<int>(plan.size()); ++a) {
        if (opt.out_of_time && opt.out_of_time()) return plan;
        const IStage x = plan[a];
        for (int p = x.first + 1; p < x.end; ++p)
          for (int w : pool) {
            if (used[w]) continue;
            for (int side = 0; side < 2; ++side) {
              auto c = plan;
              IStage lo{side ? w : x.node, x.first, p}, hi{side ? x.node : w, p, x.end};
              c[a] = lo;
              c.insert(c.begin() + a + 1, hi);
              if (try_plan(c)) {
                improved = true;
                goto next_round;
              }
            }
          }
      }
    }
    (void)k;
    if (!improved) break;
  next_round:;
  }
  return plan;
}

}  // namespace edgesplit::planner
