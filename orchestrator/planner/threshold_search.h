// Objectives with both a sum part S and a period part M (mixed, or period with migration):
// exact branch and bound over period thresholds (Alpa-style).
//
// With every period term capped at T, an S-only label DP (exact_solver.h) gives S*(T), the
// least S of a plan with period <= T, non-increasing in T. The candidate values of T (stage
// compute times and link bandwidth times, period_solver.h) between the minimum period and the
// incumbent's reach are split into intervals [t_lo, t_hi], each with a floor s on S (for the
// plans in it that beat the incumbent), so worth at least s + B*t_lo. The most promising
// interval is taken:
//  - wide: split at its middle value T: the DP's plan P (period M_P <= T) becomes an
//    incumbent, periods in (M_P, T] cannot beat it, [t_lo, M_P) gets the floor S*(T),
//    (T, t_hi] keeps its own. The DP is run with rising targets from the floor (capped
//    relaxation, interval floor) up to incumbent - B*t_lo, since its work grows steeply with
//    the slack of its target; a failed probe raises the floor.
//  - narrow (t_hi - t_lo <= narrow_fraction * t_lo): closed at once by the mixed (S, M) label
//    DP with every period term <= t_hi and periods below t_lo counted as t_lo, which is exact
//    for the interval's plans; its Pareto sets stay small because M spans little.
// The capped DPs add a distinct-node bound to the relaxed cost-to-go (exact_solver.h). Each
// step costs one capped relaxation and one or a few DPs; in practice a few dozen steps.
#pragma once

#include <functional>
#include <vector>

#include "orchestrator/planner/cost_model.h"
#include "orchestrator/planner/exact_solver.h"
#include "orchestrator/planner/lower_bound.h"

namespace edgesplit::planner {

struct ThresholdSearchOptions {
  // Intervals whose period span is at most this fraction of t_lo are closed by one mixed DP.
  double narrow_fraction = 0.05;
  // Probing: only when the target lies more than probe_min_gap (relative) above the floor;
  // the first probe is floor + probe_first * (target - floor), each next step probe_growth
  // times larger.
  double probe_min_gap = 0.1;
  double probe_first = 0.0625;
  double probe_growth = 1.5;
};

struct ThresholdSearchResult {
  bool complete = false;   // proved: no plan over `nodes` beats the final incumbent
  double lower_bound = 0;  // when !complete: proven bound on the value of any plan over `nodes`
  int steps = 0;           // intervals taken
  int dp_calls = 0;        // label DPs run (probes included)
  long long labels = 0;    // label operations of all DPs
};

// `m_floor`: proven minimum period; `incumbent`: value to beat; `offer` receives each improving
// plan and returns the (new) incumbent value. `base` supplies budgets and the time check.
ThresholdSearchResult SolveByPeriodThresholds(const CompiledInstance& ci, const RelaxedBounds& rb,
                                              const std::vector<int>& nodes, double m_floor, double incumbent,
                                              const std::function<double(const std::vector<IStage>&)>& offer,
                                              const DpOptions& base, const ThresholdSearchOptions& options = {});

}  // namespace edgesplit::planner
