// Exact minimum period over a candidate set by threshold search (Alpa-style enumeration).
//
// The period of a plan is the largest of its stage compute times and transfer bandwidth times,
// so "is there a plan with period <= T" is a pure reachability question: states (layers done
// j, last node v) hold the set of used-node masks as a bitset of 2^m bits, a stage extends a
// set with one word-parallel shift. One check costs O(L * m * (m + L) * 2^m / 64) word
// operations; a binary search over the sorted distinct candidate values of T (stage compute
// times and link bandwidth times, O(m*L^2 + m^2*L) of them) finds the optimum with
// O(log(m*L^2)) checks. The plan is rebuilt by walking the stored reachable sets backward.
// Exact for the pure period objective (no migration term); its value is also a lower bound on
// the period part of the mixed objective when the candidates are all usable nodes.
#pragma once

#include <functional>
#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::planner {

struct PeriodResult {
  bool complete = false;  // the search finished (not stopped by the time budget)
  bool feasible = false;
  double period = kInf;   // the minimum period over the candidates when complete && feasible
  std::vector<IStage> stages;
};

// Every value the period of a plan over `candidates` can take within [lower, upper], sorted
// and distinct: stage compute times and link bandwidth times.
std::vector<double> PeriodCandidates(const CompiledInstance& ci, const std::vector<int>& candidates, double lower,
                                     double upper);

// Candidates: at most kMaxDpNodes (exact_solver.h) node indices. Only thresholds in
// [lower, upper] are tried; `upper` may be the incumbent period.
PeriodResult SolveMinPeriod(const CompiledInstance& ci, const std::vector<int>& candidates, double lower, double upper,
                            const std::function<bool()>& out_of_time = {});

}  // namespace edgesplit::planner
