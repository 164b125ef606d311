#include "orchestrator/controller/session_move.h"

#include <cmath>
#include <limits>
#include <map>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::orch {

namespace {
// The node holding model layer `l` in `plan` (empty: none).
const std::string* NodeOf(const std::vector<planner::Stage>& plan, int l) {
  for (const auto& s : plan)
    if (l >= s.first_layer && l < s.end_layer) return &s.node;
  return nullptr;
}
}  // namespace

SessionMove PriceSessionMove(const planner::PlanningInstance& inst, const std::vector<planner::Stage>& current,
                             const std::vector<planner::Stage>& candidate, int sessions, double history_tokens,
                             double rebuild_ms) {
  SessionMove m;
  m.rebuild_ms = rebuild_ms;
  if (current.empty() || candidate.empty() || current.front().node != candidate.front().node || !(history_tokens > 0) ||
      sessions < 1) {
    m.copy_ms = m.copy_stall_ms = std::numeric_limits<double>::infinity();
    return m;
  }
  // Bytes per (old node, new node) pair: one transfer each, as the old stage sends its layers.
  std::map<std::pair<std::string, std::string>, double> bytes;
  const auto& layers = inst.model.layers;
  for (int l = 0; l < static_cast<int>(layers.size()); ++l) {
    const double per_token = layers[l].state_bytes_per_token;
    const std::string* from = NodeOf(current, l);
    const std::string* to = NodeOf(candidate, l);
    if (!(per_token > 0) || !from || !to || *from == *to) continue;
    bytes[{*from, *to}] += per_token * history_tokens;
  }
  const planner::CompiledInstance ci(inst);
  const double per_token_share = kTailTokens / history_tokens;  // one session's tail in the bulk
  for (const auto& [pair, b] : bytes) {
    const int u = ci.NodeIndex(pair.first), v = ci.NodeIndex(pair.second);
    const bool linked = u >= 0 && v >= 0;
    const double inf = std::numeric_limits<double>::infinity();
    m.copy_ms += linked ? ci.Transfer(u, v, b) : inf;
    m.copy_stall_ms += linked ? sessions * ci.Transfer(u, v, b * per_token_share) : inf;
    m.kv_bytes += b;
  }
  if (!std::isfinite(m.copy_ms)) m.copy_ms = m.copy_stall_ms = std::numeric_limits<double>::infinity();
  m.copy = m.copy_ms <= kKvCopyMaxMs && m.copy_stall_ms <= m.rebuild_ms;
  return m;
}

}  // namespace edgesplit::orch
