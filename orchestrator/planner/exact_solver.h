// Bitmask label DP over a candidate node set (EdgeShard-style, exact or beam-limited).
//
// State: (layers done j, used candidates mask, node v of the last stage). Each state keeps the
// Pareto-optimal labels (S, M) of the partial plans reaching it (one label when the objective
// depends on only one part). Layers are processed in increasing j; for each mask at j and each
// unused candidate w the best "arrive at w" labels are merged over the last nodes u first and
// only then extended by every stage [j, k) on w, which makes the work
//   O(2^m * m * L * (m + L)) label operations for m candidates,
// instead of the naive O(2^m * m^2 * L^2). A label is dropped when
// S + h_S(v, j) + B * max(M, h_M(v, j)) >= incumbent, with h the admissible relaxed cost-to-go
// (lower_bound.h), so easy instances touch a small part of the space. Without a beam and
// within its budgets the search is complete: the result is optimal over the candidates.
// With beam_width > 0 only the beam_width most promising states per layer are expanded.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "orchestrator/planner/cost_model.h"
#include "orchestrator/planner/lower_bound.h"

namespace edgesplit::planner {

struct DpOptions {
  int beam_width = 0;                    // 0: exact
  long long max_labels = 60'000'000;     // label operations before giving up
  std::function<bool()> out_of_time;     // polled now and then; may be empty
  // A proven lower bound on the final M (e.g. the min period); labels start at M = m_floor, so
  // a plan whose period is below it is valued as if its period were m_floor (exact when the
  // bound holds for every plan; the threshold search also uses it on intervals of periods).
  double m_floor = 0;
  // Threshold subproblem of the mixed objective: only stages and transfers whose period term
  // is <= m_cap (value and incumbent in S units when s_only, minimising S alone). Under a cap
  // the S cost-to-go is also bounded with distinct nodes (fractional fill of the remaining
  // work into the unused candidates, the fewest stages that can hold it, their transfers).
  double m_cap = kInf;
  bool s_only = false;
  // Optional scratch reused across calls with the same (L, m) (saves clearing ~L*2^m*m ints).
  std::vector<int32_t>* workspace = nullptr;
};

struct DpResult {
  bool complete = false;         // search finished without beam cuts or budget stops
  bool improved = false;         // found a plan better than the incumbent
  double value = kInf;           // of `stages` when improved
  std::vector<IStage> stages;
  long long labels = 0;          // label operations spent
};

// Candidates: at most kMaxDpNodes node indices. `incumbent` is the value to beat (kInf: none).
constexpr int kMaxDpNodes = 13;
DpResult SolveDp(const CompiledInstance& ci, const RelaxedBounds& rb, const std::vector<int>& candidates,
                 double incumbent, const DpOptions& options);

}  // namespace edgesplit::planner
