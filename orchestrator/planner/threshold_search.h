// Objectives with both a sum part S and a period part M (mixed, or period with migration):
// exact branch and bound over period thresholds (Alpa-style).
//
// With every period term capped at T, an S-only label DP (exact_solver.h) gives S*(T), the
// least S of a plan with period <= T, non-increasing in T. The candidate values of T (stage
// compute times and link bandwidth times, period_solver.h) between the minimum period and the
// incumbent's reach are split into intervals [t_lo, t_hi], each with a floor s on S valid for
// periods <= t_hi, so worth at least s + B*t_lo. The most promising interval is split at its
// middle value T: the DP's plan P (period M_P <= T) becomes an incumbent, periods in (M_P, T]
// cannot beat it, [t_lo, M_P) gets the floor S*(T), (T, t_hi] keeps its own. Each step costs
// one capped relaxation and one S-only DP; the number of steps is at most the number of
// candidate values and in practice a few dozen.
#pragma once

#include <functional>
#include <vector>

#include "orchestrator/planner/cost_model.h"
#include "orchestrator/planner/exact_solver.h"
#include "orchestrator/planner/lower_bound.h"

namespace edgesplit::planner {

struct ThresholdSearchResult {
  bool complete = false;   // proved: no plan over `nodes` beats the final incumbent
  double lower_bound = 0;  // when !complete: proven bound on the value of any plan over `nodes`
};

// `m_floor`: proven minimum period; `incumbent`: value to beat; `offer` receives each improving
// plan and returns the (new) incumbent value. `base` supplies budgets and the time check.
ThresholdSearchResult SolveByPeriodThresholds(const CompiledInstance& ci, const RelaxedBounds& rb,
                                              const std::vector<int>& nodes, double m_floor, double incumbent,
                                              const std::function<double(const std::vector<IStage>&)>& offer,
                                              const DpOptions& base);

}  // namespace edgesplit::planner
