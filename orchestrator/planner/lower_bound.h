// Proven lower bounds and cost-to-go estimates from the reuse-relaxed chain DP.
//
// The relaxation drops "each node holds at most one stage" (only consecutive stages must use
// different nodes) and max_stages, but keeps per-stage memory, trust, pins and links. Every
// feasible plan is a relaxed plan, so the relaxed optimum of the sum part S and, separately,
// of the max part M are lower bounds, and value >= S* + B*M*. Computed backward as cost-to-go
// tables over (node, layer), O(n*L^2 + n^2*L) time and O(n*L) memory per part; the exact and
// beam DPs use them as admissible A* heuristics. For period a memory-aware fluid bound
// (max_stages nodes, each limited by its speed and by the largest contiguous range it can
// hold, all in one connected component of links fast enough for the period) is added,
// O(n^2) per bisection step. A forward pass ranks nodes by the best relaxed plan through them.
#pragma once

#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::planner {

struct RelaxedBounds {
  int n = 0, L = 0;
  // Cost-to-go after a stage on v ended at layer j (the next stage is on another node; at
  // j == L the result returns to the source). Index v * (L + 1) + j.
  std::vector<double> h_s, h_m;
  // Cost-to-go of a stage that starts on w at layer j, excluding the transfer into w.
  std::vector<double> c_s, c_m;
  double s_lb = 0, m_lb = 0;   // relaxed optima from the source
  double fluid_m_lb = 0;       // fluid bound on M (period)
  double lower_bound = kInf;   // s_lb + B * max(m_lb, fluid_m_lb); kInf: even the relaxation is infeasible
  std::vector<IStage> relaxed_plan;  // an optimal relaxed plan of the primary part (may reuse nodes)
  double at(const std::vector<double>& t, int v, int j) const { return t[static_cast<size_t>(v) * (L + 1) + j]; }
};

// `cap`: only stages and transfers whose period term is <= cap (threshold subproblems).
RelaxedBounds ComputeRelaxedBounds(const CompiledInstance& ci, double cap = kInf);

// Per node, the best relaxed value of a plan that uses it (forward pass + cost-to-go), for
// candidate pruning. Same complexity as the bounds.
std::vector<double> RankNodes(const CompiledInstance& ci, const RelaxedBounds& rb);

// Lower bound for objectives with both parts (B > 0, S not trivial) by a grid of period caps
// c_0 < ... < c_k between a proven minimum period `m_lo` and `m_hi`, the largest period a plan
// beating the incumbent can have: a plan with period in [c_i, c_i+1] is worth at least
// S_relaxed(cap c_i+1) + B * c_i. Returns min(incumbent, that minimum); `points` relaxations.
double PeriodGridBound(const CompiledInstance& ci, double m_lo, double m_hi, double incumbent, int points);

// Fewest stages any plan needs, from memory, trust and pins alone (links ignored); kInf-like
// large value (L + 1) when no stage sequence exists.
int MinStagesNeeded(const CompiledInstance& ci);

}  // namespace edgesplit::planner
