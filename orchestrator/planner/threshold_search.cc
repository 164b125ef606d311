#include "orchestrator/planner/threshold_search.h"

#include <algorithm>

#include "orchestrator/planner/period_solver.h"

namespace edgesplit::planner {

ThresholdSearchResult SolveByPeriodThresholds(const CompiledInstance& ci, const RelaxedBounds& rb,
                                              const std::vector<int>& nodes, double m_floor, double incumbent,
                                              const std::function<double(const std::vector<IStage>&)>& offer,
                                              const DpOptions& base) {
  ThresholdSearchResult res;
  const double B = ci.B();
  double best = incumbent;
  // A plan beating the incumbent has S >= s_lb, so its period is at most this.
  const double cap0 = best == kInf ? kInf : (best - rb.s_lb) / B * (1 + 1e-12);
  const std::vector<double> t = PeriodCandidates(ci, nodes, m_floor, cap0);
  struct Interval {
    size_t lo, hi;  // inclusive indices into t
    double s;       // floor on S for plans with period <= t[hi]
  };
  std::vector<Interval> open;
  std::vector<int32_t> workspace;
  long long spent = 0;
  if (!t.empty()) open.push_back({0, t.size() - 1, rb.s_lb});
  auto bound = [&](const Interval& x) { return x.s + B * t[x.lo]; };
  while (true) {
    // Drop intervals that cannot beat the incumbent; pick the most promising one.
    open.erase(std::remove_if(open.begin(), open.end(), [&](const Interval& x) { return bound(x) >= best * (1 - 1e-12); }),
               open.end());
    if (open.empty()) {
      res.complete = true;
      return res;
    }
    auto it = std::min_element(open.begin(), open.end(), [&](const Interval& a, const Interval& b) { return bound(a) < bound(b); });
    res.lower_bound = bound(*it);
    if ((base.out_of_time && base.out_of_time()) || spent > base.max_labels) return res;
    const Interval x = *it;
    open.erase(it);
    const size_t mid = (x.lo + x.hi) / 2;
    const RelaxedBounds rt = ComputeRelaxedBounds(ci, t[mid]);
    DpOptions o = base;
    o.workspace = &workspace;
    o.s_only = true;
    o.m_cap = t[mid];
    const double target = best - B * t[x.lo];  // only S below this can help in [lo, mid]
    DpResult d;
    o.max_labels = base.max_labels - spent;  // one budget for the whole search
    if (rt.lower_bound < kInf && rt.s_lb < target) d = SolveDp(ci, rt, nodes, target, o);
    else d.complete = true;
    spent += d.labels;
    if (!d.complete) return res;  // res.lower_bound still covers x
    if (mid + 1 <= x.hi) open.push_back({mid + 1, x.hi, x.s});
    if (d.improved) {
      best = std::min(best, offer(d.stages));
      const double mp = ci.EvaluateIndex(d.stages).period_ms;
      const size_t k = std::lower_bound(t.begin(), t.end(), mp) - t.begin();  // t[k] == mp
      if (k > x.lo) open.push_back({x.lo, k - 1, std::max(x.s, d.value)});
    }
  }
}

}  // namespace edgesplit::planner
