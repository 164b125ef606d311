#include "orchestrator/planner/threshold_search.h"

#include <algorithm>
#include <cmath>

#include "orchestrator/planner/period_solver.h"

namespace edgesplit::planner {

ThresholdSearchResult SolveByPeriodThresholds(const CompiledInstance& ci, const RelaxedBounds& rb,
                                              const std::vector<int>& nodes, double m_floor, double incumbent,
                                              const std::function<double(const std::vector<IStage>&)>& offer,
                                              const DpOptions& base, const ThresholdSearchOptions& tso) {
  ThresholdSearchResult res;
  const double B = ci.B();
  double best = incumbent;
  // A plan beating the incumbent has S >= s_lb, so its period is at most this.
  // No plan's period exceeds the instance's cap (constraints.max_period_ms) either.
  const double cap0 = std::min(ci.period_cap(), best == kInf ? kInf : (best - rb.s_lb) / B * (1 + 1e-12));
  const std::vector<double> t = PeriodCandidates(ci, nodes, m_floor, cap0);
  // Invariant: every plan with period in [t[lo], t[hi]] and a value below the incumbent has
  // S >= s (the incumbent only decreases, so this stays true).
  struct Interval {
    size_t lo, hi;  // inclusive indices into t
    double s;       // floor on S (see above)
  };
  std::vector<Interval> open;
  std::vector<int32_t> workspace;
  long long spent = 0;
  if (!t.empty()) open.push_back({0, t.size() - 1, rb.s_lb});
  auto bound = [&](const Interval& x) { return x.s + B * t[x.lo]; };
  auto run = [&](const RelaxedBounds& r, double ub, DpOptions o) {
    o.workspace = &workspace;
    o.max_labels = base.max_labels - spent;  // one budget for the whole search
    DpResult d = SolveDp(ci, r, nodes, ub, o);
    spent += d.labels;
    ++res.dp_calls;
    return d;
  };
  while (true) {
    // Drop intervals that cannot beat the incumbent; pick the most promising one.
    open.erase(std::remove_if(open.begin(), open.end(), [&](const Interval& x) { return bound(x) >= best * (1 - 1e-12); }),
               open.end());
    if (open.empty()) {
      res.complete = true;
      break;
    }
    auto it = std::min_element(open.begin(), open.end(), [&](const Interval& a, const Interval& b) { return bound(a) < bound(b); });
    res.lower_bound = bound(*it);
    if ((base.out_of_time && base.out_of_time()) || spent > base.max_labels) break;
    const Interval x = *it;
    open.erase(it);
    ++res.steps;
    const bool narrow = t[x.hi] - t[x.lo] <= tso.narrow_fraction * t[x.lo];
    if (narrow) {
      // Close [lo, hi] with one mixed DP: labels (S, max(M, t_lo)), every period term <= t_hi.
      // For the plans of the interval this is their value (periods below t_lo count as t_lo,
      // which only overrates plans outside it), so when the DP ends, none of them beats the
      // incumbent or the DP's plan, whose true value is at most the DP's.
      const RelaxedBounds rt = ComputeRelaxedBounds(ci, t[x.hi]);
      DpOptions o = base;
      o.m_cap = t[x.hi];
      o.m_floor = t[x.lo];
      DpResult d;
      d.complete = true;
      if (rt.lower_bound < kInf && rt.s_lb + B * std::max(t[x.lo], rt.m_lb) < best) d = run(rt, best, o);
      if (!d.complete) {
        open.push_back(x);  // keeps res.lower_bound valid
        break;
      }
      if (d.improved) best = std::min(best, offer(d.stages));
      continue;
    }
    const size_t mid = (x.lo + x.hi) / 2;
    const RelaxedBounds rt = ComputeRelaxedBounds(ci, t[mid]);
    DpOptions o = base;
    o.s_only = true;
    o.m_cap = t[mid];
    const double target = best - B * t[x.lo];  // only S below this can help in [lo, mid]
    // S*(t[mid]) >= floor: the interval's floor holds for it, and so does the capped relaxation.
    double floor = rt.lower_bound < kInf ? std::max(x.s, rt.s_lb) : kInf;
    DpResult d;
    d.complete = true;
    // The DP's work grows quickly with how far its incumbent lies above S*(t[mid]), and it
    // cannot tighten that incumbent early (labels are processed by layer). So probe with
    // targets rising from the floor: a probe that finds a plan has found S*(t[mid]) (the DP is
    // exact below its incumbent); one that finds none proves S*(t[mid]) >= its target.
    double step = target - floor > tso.probe_min_gap * std::abs(target) ? (target - floor) * tso.probe_first : kInf;
    while (floor < target) {
      const double tau = target - floor <= step || target - floor <= 1e-9 * std::abs(target) ? target : floor + step;
      d = run(rt, tau, o);
      if (!d.complete || d.improved) break;
      floor = tau;
      step *= tso.probe_growth;
    }
    if (!d.complete) {
      open.push_back(x);
      break;
    }
    if (mid + 1 <= x.hi) open.push_back({mid + 1, x.hi, x.s});
    if (d.improved) {
      best = std::min(best, offer(d.stages));
      const double mp = ci.EvaluateIndex(d.stages).period_ms;
      const size_t k = std::lower_bound(t.begin(), t.end(), mp) - t.begin();  // t[k] == mp
      if (k > x.lo) open.push_back({x.lo, k - 1, std::max(x.s, d.value)});
    }
  }
  res.labels = spent;
  return res;
}

}  // namespace edgesplit::planner
