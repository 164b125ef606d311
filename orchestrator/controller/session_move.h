// How a candidate plan moves the live generation sessions of a deployment (docs/orchestrator.md,
// "Decisions"), and what it costs:
//   copy:    every stateful layer whose node changes sends its KV (the layer's state bytes per
//            token x the sessions' history tokens) over the measured link from its old node to
//            its new one, transfers priced one after another (they share the agents' uplinks). A
//            layer that stays keeps its cache. The bulk travels while the sessions keep decoding
//            (pre-copy), so what a session feels is the tail: the positions decoded meanwhile
//            (kTailTokens) over the same links, latency included.
//   rebuild: a prefill of every history through the new plan (RebuildSessionsMs): all stall.
// The way is chosen by the stall the sessions would feel; a copy whose bulk would take longer
// than the agents wait for it (kKvCopyMaxMs) would fail over to a rebuild, so it is not offered.
// The cost of a copy counts both the time to move the bulk over the links and the tail's stall.
// Stall and transfer both grow linearly with a session's history, so the cheaper way is the same
// for every session of the deployment: the choice is made once per plan. Pure.
#pragma once

#include <vector>

#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

// Positions a session decodes while its pre-copy travels, sent at its switch (measured: 1-3).
constexpr double kTailTokens = 2;
// The agents' default kv_copy_timeout_ms: a pre-copy that takes longer is abandoned for a rebuild.
constexpr double kKvCopyMaxMs = 3000;

struct SessionMove {
  double copy_ms = 0;        // the bulk's transfer time (infinity when a needed link is unknown)
  double copy_stall_ms = 0;  // the tails, summed over the sessions
  double rebuild_ms = 0;     // the rebuilds (all stall), summed
  double kv_bytes = 0;       // the copy's bytes over the network
  bool copy = false;         // copying is possible and stalls the sessions less
  double ms() const { return copy ? copy_ms + copy_stall_ms : rebuild_ms; }
  double stall_ms() const { return copy ? copy_stall_ms : rebuild_ms; }
  const char* name() const { return copy ? "copy" : "rebuild"; }
};

// `sessions` live sessions holding `history_tokens` history tokens in all; `rebuild_ms`: their
// rebuild on the candidate. A candidate whose entry is another node cannot take the sessions'
// KV (they stay on the old plan until they end): priced as the rebuild.
SessionMove PriceSessionMove(const planner::PlanningInstance& inst, const std::vector<planner::Stage>& current,
                             const std::vector<planner::Stage>& candidate, int sessions, double history_tokens,
                             double rebuild_ms);

}  // namespace edgesplit::orch
