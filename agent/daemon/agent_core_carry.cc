// AgentCore: requests and live generation sessions through reconfiguration (docs/agent.md,
// "Sessions across epochs"). A one-shot request is run again on the new epoch (the entry keeps
// its input until it is answered). The entry owns every session's history, so a session can
// always continue on another epoch of its deployment: the first step there is a prefill of the
// history (prompt plus the tokens generated so far) at position 0, which writes every layer's KV
// on the new stages and samples the next index, as an incremental step would have (the draw
// depends only on seed and index). A planned move happens at a token boundary (no step in
// flight); after a loss the in-flight step is abandoned (its late answer carries the old epoch
// and is dropped). A planned move copies the KV instead where it can (agent_core_kv.cc).
#include "agent/daemon/agent_core.h"
#include "agent/daemon/agent_core_conn.h"
#include <algorithm>

#include "common/base/log.h"

namespace edgesplit::agent {

using transport::Frame;
using transport::FrameKind;
using transport::RejectReason;

void AgentCore::EndSessionOnChain(const std::string& deployment, uint64_t epoch, uint64_t session) {
  Frame end;
  end.kind = FrameKind::kSessionEnd;
  end.deployment = deployment;
  end.epoch = epoch;
  end.layer = 0;
  end.session_id = session;
  end.origin = data_address_;
  HandleSessionEnd(std::move(end), nullptr);
}

void AgentCore::LeaveEpoch(EntryGen* g, uint64_t epoch) {
  const SegmentKey old = g->key;
  // The old chain frees the session's state (a lost node simply never hears of it; anything it
  // held is released with its epoch). After a KV push this follows it down the same links.
  EndSessionOnChain(old.deployment, old.epoch, g->session);
  if (SegmentSlot* s = table_.Find(old)) s->in_flight_entry--;
  if (SegmentSlot* s = table_.Find({old.deployment, epoch})) s->in_flight_entry++;
  g->key.epoch = epoch;
  g->parked = false;
}

void AgentCore::MoveSession(EntryGen* g, uint64_t epoch, const char* reason) {
  const uint64_t old_epoch = g->key.epoch;
  LeaveEpoch(g, epoch);
  g->carry_epoch = 0;
  DropPreCopy(g);
  g->stream.Rebuild();
  metrics_->SessionMoved("rebuilt", reason);
  LogInfo("session_moved").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("from_epoch", old_epoch)
      .Kv("to_epoch", epoch).Kv("reason", reason).Kv("how", "rebuilt").Kv("history_tokens", g->stream.history().size())
      .Kv("next_index", g->stream.next_index());
}

int AgentCore::CarrySessions(const std::string& deployment, uint64_t epoch, bool lost) {
  std::vector<EntryGen*> now;
  for (auto& [id, g] : gens_) {
    if (g->key.deployment != deployment || g->key.epoch == epoch) continue;
    if (lost || g->parked) now.push_back(g.get());
    else PreCopySession(g.get(), epoch);  // it moves at its next token boundary
  }
  for (EntryGen* g : now) {
    MoveSession(g, epoch, lost ? "lost" : "planned");
    StartStep(g);
  }
  return static_cast<int>(now.size());
}

bool AgentCore::SurviveStepError(EntryGen* g, const Frame& err) {
  if (FallBackToRebuild(g, err)) return true;  // the first step after a KV copy failed
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
    g->parked_at = SteadyClock::Default()->Now();
    LogInfo("session_parked").Kv("session", g->session).Kv("deployment", g->key.deployment).Kv("epoch", g->key.epoch)
        .Kv("error", err.error);
  }
  return true;
}

namespace {
// How long a step may take before it counts as stuck: several usual token intervals (a stage
// behind a saturated link or a hung node delays it far longer), and never less than a second
// for a prefill (it covers the whole prompt) or a quarter second for a decode step.
Duration Overdue(const GenStream& s) {
  const double usual = s.ms_per_token_p50();
  const double floor_ms = s.generated() == 0 || s.rebuilding() ? 1000 : 250;
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(floor_ms, 4 * usual)));
}
constexpr Duration kParkedRetry = std::chrono::seconds(1);
}  // namespace

void AgentCore::RescueSessions(TimePoint now) {
  std::vector<std::pair<EntryGen*, uint64_t>> move;
  for (auto& [id, g] : gens_) {
    auto active = table_.ActiveEpoch(g->key.deployment);
    if (!active) continue;
    if (g->parked) {
      if (now - g->parked_at >= kParkedRetry) move.push_back({g.get(), *active});
    } else if (*active != g->key.epoch && now - g->step_started >= Overdue(g->stream)) {
      // Its epoch was replaced while this step was in flight, and the step is late: the old
      // path is slow or broken, so the session moves now instead of at the token boundary.
      move.push_back({g.get(), *active});
    }
  }
  for (auto [g, epoch] : move) {
    MoveSession(g, epoch, g->parked ? "lost" : "planned");
    StartStep(g);
  }
}

bool AgentCore::RetryOnActiveEpoch(const Frame& err, Pending* p) {
  // A stage of the request's epoch became unreachable (e.g. its node died) and the orchestrator
  // has meanwhile committed another epoch: run the request once more there. Request ids are
  // entry-internal, so a late answer from the old attempt cannot be confused with the new one.
  if (transport::StatusCodeFromName(err.error_code) != StatusCode::kUnavailable) return false;
  auto active = table_.ActiveEpoch(p->key.deployment);
  if (!active || *active == p->key.epoch) return false;
  return Resubmit(err.request_id, p, *active, err.error);
}

bool AgentCore::Resubmit(uint64_t id, Pending* p, uint64_t epoch, const std::string& why) {
  if (shutting_down_ || p->attempts > 1) return false;
  std::optional<RejectReason> reason;
  auto r = table_.RouteRequest(p->key.deployment, epoch, &reason);
  if (!r.ok()) return false;
  Frame f;
  f.kind = FrameKind::kRequest;
  f.request_id = id;  // an answer of the old attempt may still arrive: the first one wins
  f.deployment = p->key.deployment;
  f.epoch = epoch;
  f.layer = 0;
  f.origin = data_address_;
  f.deadline_unix_ms = p->deadline_unix_ms;
  f.has_tensor = true;
  f.tensor = p->input;
  if (!SubmitCompute(*r, std::move(f)).ok()) return false;
  LogInfo("request_retried").Kv("request", id).Kv("from_epoch", p->key.epoch).Kv("to_epoch", epoch).Kv("why", why);
  metrics_->RequestRetried();
  if (SegmentSlot* old = table_.Find(p->key)) old->in_flight_entry--;
  (*r)->in_flight_entry++;
  p->key.epoch = epoch;
  p->sent = SteadyClock::Default()->Now();
  p->attempts++;
  return true;
}

int AgentCore::ResubmitInFlight(const std::string& deployment, uint64_t epoch) {
  int n = 0;
  for (auto& [id, p] : pending_) {
    if (p->key.deployment == deployment && p->key.epoch != epoch &&
        Resubmit(id, p.get(), epoch, "a stage node of epoch " + std::to_string(p->key.epoch) + " was lost"))
      ++n;
  }
  return n;
}

void AgentCore::RescueRequests(TimePoint now) {
  // A second is several times a normal request here and far below request_timeout_ms; a
  // legitimately slow old path only costs a duplicate computation (the first answer wins).
  constexpr Duration kRequestOverdue = std::chrono::seconds(1);
  std::vector<std::pair<uint64_t, uint64_t>> late;  // request id, epoch to resubmit to
  for (auto& [id, p] : pending_) {
    if (p->attempts > 1 || now - p->sent < kRequestOverdue) continue;
    auto active = table_.ActiveEpoch(p->key.deployment);
    if (active && *active != p->key.epoch) late.push_back({id, *active});
  }
  for (auto [id, epoch] : late) {
    Pending* p = pending_.at(id).get();
    Resubmit(id, p, epoch, "overdue on replaced epoch " + std::to_string(p->key.epoch));
  }
}

}  // namespace edgesplit::agent
