// AgentCore: live generation sessions through reconfiguration (docs/agent.md, "Sessions across
// epochs"). The entry owns every session's history, so a session can always continue on another
// epoch of its deployment: the first step there is a prefill of the history (prompt plus the
// tokens generated so far) at position 0, which writes every layer's KV on the new stages and
// samples the next index, as an incremental step would have (the draw depends only on seed and
// index). A planned move happens at a token boundary (no step in flight); after a loss the
// in-flight step is abandoned (its late answer carries the old epoch and is dropped).
#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"
#include "common/base/log.h"

namespace edgesplit::agent {

using transport::Frame;
using transport::FrameKind;

void AgentCore::MoveSession(EntryGen* g, uint64_t epoch, const char* reason) {
  const SegmentKey old = g->key;
  // The old chain frees the session's state (a lost node simply never hears of it; anything it
  // held is released with its epoch).
  Frame end;
  end.kind = FrameKind::kSessionEnd;
  end.deployment = old.deployment;
  end.epoch = old.epoch;
  end.layer = 0;
  end.session_id = g->session;
  end.origin = data_address_;
  HandleSessionEnd(std::move(end), nullptr);
  if (SegmentSlot* s = table_.Find(old)) s->in_flight_entry--;
  if (SegmentSlot* s = table_.Find({old.deployment, epoch})) s->in_flight_entry++;
  g->key.epoch = epoch;
  g->parked = false;
  g->stream.Rebuild();
  metrics_->SessionMoved("rebuilt", reason);
  LogInfo("session_moved").Kv("session", g->session).Kv("deployment", old.deployment).Kv("from_epoch", old.epoch)
      .Kv("to_epoch", epoch).Kv("reason", reason).Kv("how", "rebuilt").Kv("history_tokens", g->stream.history().size())
      .Kv("next_index", g->stream.next_index());
}

int AgentCore::CarrySessions(const std::string& deployment, uint64_t epoch, bool lost) {
  std::vector<EntryGen*> now;
  for (auto& [id, g] : gens_)
    if (g->key.deployment == deployment && g->key.epoch != epoch && (lost || g->parked)) now.push_back(g.get());
  for (EntryGen* g : now) {
    MoveSession(g, epoch, lost ? "lost" : "planned");
    StartStep(g);
  }
  return static_cast<int>(now.size());
}

bool AgentCore::SurviveStepError(EntryGen* g, const Frame& err) {
  // Only the loss of a stage (unreachable, gone) is survivable: a bad request or a refused
  // session would fail the same way on any plan.
  if (transport::StatusCodeFromName(err.error_code) != StatusCode::kUnavailable || shutting_down_) return false;
  auto active = table_.ActiveEpoch(g->key.deployment);
  if (active && *active != g->key.epoch) {
    MoveSession(g, *active, "lost");
    StartStep(g);
    return true;
  }
  // No newer plan yet: wait for the orchestrator's replacement epoch, within the step deadline
  // (SweepSessions ends the session then).
  if (!g->parked) {
    g->parked = true;
    LogInfo("session_parked").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("epoch", g->key.epoch)
        .Kv("error", err.error);
  }
  return true;
}

}  // namespace edgesplit::agent
