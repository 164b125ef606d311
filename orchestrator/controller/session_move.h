// How a candidate plan moves the live generation sessions of a deployment, priced both ways
// (docs/orchestrator.md, "Decisions"):
//   copy:    every stateful layer whose node changes sends its KV (the layer's state bytes per
//            token x the sessions' history tokens) over the measured link from its old node to
//            its new one; the transfers are priced one after another (they share the agents'
//            uplinks and the entry paces them per session). A layer that stays keeps its cache.
//   rebuild: a prefill of every history through the new plan (RebuildSessionsMs).
// Both grow linearly with a session's history, so the cheaper way is the same for every session
// of the deployment: the choice is made once per plan and holds for each session. Pure.
#pragma once

#include <vector>

#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

struct SessionMove {
  double copy_ms = 0;     // kInf-like (infinity) when a needed link is unknown
  double rebuild_ms = 0;
  double kv_bytes = 0;    // the copy's bytes over the network
  bool copy = false;      // copying is the cheaper way
  double ms() const { return copy ? copy_ms : rebuild_ms; }
  const char* name() const { return copy ? "copy" : "rebuild"; }
};

// `history_tokens`: the live sessions' history tokens, summed; `rebuild_ms`: their rebuild on
// the candidate. A candidate whose entry is another node cannot take the sessions' KV (they stay
// on the old plan until they end): priced as the rebuild.
SessionMove PriceSessionMove(const planner::PlanningInstance& inst, const std::vector<planner::Stage>& current,
                             const std::vector<planner::Stage>& candidate, double history_tokens, double rebuild_ms);

}  // namespace edgesplit::orch
