#include "orchestrator/rollout/rollout.h"

namespace edgesplit::orch {

const char* CommandKindName(CommandKind k) {
  switch (k) {
    case CommandKind::kLoad: return "load";
    case CommandKind::kActivate: return "activate";
    case CommandKind::kDrain: return "drain";
    case CommandKind::kUnload: return "unload";
    case CommandKind::kProbe: return "probe";
  }
  return "unknown";
}

const char* RolloutPhaseName(RolloutPhase p) {
  switch (p) {
    case RolloutPhase::kPreparing: return "preparing";
    case RolloutPhase::kCommitting: return "committing";
    case RolloutPhase::kDraining: return "draining";
    case RolloutPhase::kReleasing: return "releasing";
    case RolloutPhase::kDone: return "done";
    case RolloutPhase::kAborted: return "aborted";
  }
  return "unknown";
}

Status RolloutOptions::Validate() const {
  std::string e;
  if (prepare_timeout <= Duration::zero()) e += "prepare_timeout must be > 0; ";
  if (commit_timeout <= Duration::zero()) e += "commit_timeout must be > 0; ";
  if (drain_timeout <= Duration::zero()) e += "drain_timeout must be > 0; ";
  if (drain_grace < Duration::zero()) e += "drain_grace must be >= 0; ";
  if (release_timeout <= Duration::zero()) e += "release_timeout must be > 0; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

Rollout::Rollout(RolloutSpec spec, RolloutOptions options, CommandIds* ids)
    : spec_(std::move(spec)), options_(options), ids_(ids) {}

AgentCommand Rollout::Make(const std::string& node, CommandKind kind, uint64_t epoch) {
  AgentCommand c;
  c.id = ids_->Take();
  c.node = node;
  c.kind = kind;
  c.deployment = spec_.deployment;
  c.epoch = epoch;
  return c;
}

void Rollout::SetPhase(RolloutPhase p, TimePoint now) {
  phase_ = p;
  phase_at_ = now;
  changes_.push_back(p);
}

std::vector<RolloutPhase> Rollout::TakePhaseChanges() {
  std::vector<RolloutPhase> out;
  out.swap(changes_);
  return out;
}

std::vector<AgentCommand> Rollout::Start(TimePoint now) {
  started_at_ = now;
  SetPhase(RolloutPhase::kPreparing, now);
  std::vector<AgentCommand> out;
  const std::string entry = spec_.to.empty() ? "" : spec_.to.front().data_address;
  for (size_t i = 0; i < spec_.to.size(); ++i) {
    const StageTarget& s = spec_.to[i];
    AgentCommand c = Make(s.node, CommandKind::kLoad, spec_.to_epoch);
    c.model = spec_.model;
    c.first_layer = s.first_layer;
    c.end_layer = s.end_layer;
    c.num_layers = spec_.num_layers;
    c.downstream_address = i + 1 < spec_.to.size() ? spec_.to[i + 1].data_address : "";
    c.entry_address = entry;
    c.is_entry = i == 0;
    for (const auto& t : spec_.to) c.stage_nodes.push_back(t.node);
    c.stage_index = static_cast<int>(i);
    c.stages = spec_.to;
    if (spec_.kv_copy && spec_.from_epoch != 0 && !spec_.from.empty()) {
      c.carry_from_epoch = spec_.from_epoch;
      c.carry_from = spec_.from;
    }
    loaded_nodes_.insert(s.node);
    pending_[c.id] = c;
    out.push_back(c);
  }
  if (out.empty()) return AbortNow("the new plan has no stages", now);
  return out;
}

bool Rollout::Waiting() const { return !pending_.empty(); }

std::vector<AgentCommand> Rollout::EnterCommit(TimePoint now) {
  SetPhase(RolloutPhase::kCommitting, now);
  AgentCommand c = Make(spec_.to.front().node, CommandKind::kActivate, spec_.to_epoch);
  c.retry_in_flight = spec_.retry_in_flight;
  pending_[c.id] = c;
  return {c};
}

std::vector<AgentCommand> Rollout::EnterDrain(TimePoint now) {
  committed_ = true;
  committed_at_ = now;
  SetPhase(RolloutPhase::kDraining, now);
  drain_acked_ = false;
  next_drain_ = 0;
  return NextDrain(now);
}

// Old stages drain one at a time in pipeline order: once a stage has no in-flight work, no
// upstream stage can send it more, so unloading it later cannot strand a request.
std::vector<AgentCommand> Rollout::NextDrain(TimePoint now) {
  while (next_drain_ < spec_.from.size()) {
    const StageTarget& s = spec_.from[next_drain_++];
    if (lost_.count(s.node)) continue;
    AgentCommand c = Make(s.node, CommandKind::kDrain, spec_.from_epoch);
    pending_[c.id] = c;
    return {c};
  }
  drain_acked_ = true;
  drained_at_ = now;
  if (options_.drain_grace <= Duration::zero() || spec_.from.empty()) return EnterRelease(now);
  return {};
}

std::vector<AgentCommand> Rollout::EnterRelease(TimePoint now) {
  SetPhase(RolloutPhase::kReleasing, now);
  std::vector<AgentCommand> out;
  std::set<std::string> seen;
  for (const auto& s : spec_.from) {
    if (lost_.count(s.node) || !seen.insert(s.node).second) continue;
    AgentCommand c = Make(s.node, CommandKind::kUnload, spec_.from_epoch);
    pending_[c.id] = c;
    out.push_back(c);
  }
  if (out.empty()) SetPhase(RolloutPhase::kDone, now);
  return out;
}

std::vector<AgentCommand> Rollout::AbortNow(const std::string& reason, TimePoint now) {
  abort_reason_ = reason;
  pending_.clear();
  SetPhase(RolloutPhase::kAborted, now);
  std::vector<AgentCommand> out;
  for (const auto& node : loaded_nodes_) {
    if (lost_.count(node)) continue;
    out.push_back(Make(node, CommandKind::kUnload, spec_.to_epoch));
  }
  return out;
}

std::vector<AgentCommand> Rollout::OnAck(uint64_t id, bool ok, const std::string& error, TimePoint now) {
  auto it = pending_.find(id);
  if (it == pending_.end() || finished()) return {};
  AgentCommand cmd = it->second;
  pending_.erase(it);
  switch (phase_) {
    case RolloutPhase::kPreparing:
      if (!ok) return AbortNow("load on " + cmd.node + " failed: " + error, now);
      return Waiting() ? std::vector<AgentCommand>{} : EnterCommit(now);
    case RolloutPhase::kCommitting:
      if (!ok) return AbortNow("activate on " + cmd.node + " failed: " + error, now);
      return EnterDrain(now);
    case RolloutPhase::kDraining:
      if (!ok) warnings_.push_back("drain on " + cmd.node + " failed: " + error);
      return Waiting() ? std::vector<AgentCommand>{} : NextDrain(now);
    case RolloutPhase::kReleasing:
      if (!ok) warnings_.push_back("unload on " + cmd.node + " failed: " + error);
      if (!Waiting()) SetPhase(RolloutPhase::kDone, now);
      return {};
    default:
      return {};
  }
}

std::vector<AgentCommand> Rollout::OnNodeLost(const std::string& node, TimePoint now) {
  if (finished()) return {};
  lost_.insert(node);
  if (!committed_ && loaded_nodes_.count(node)) return AbortNow("node " + node + " of the new plan was lost", now);
  // Old-epoch nodes (or nodes only draining) are skipped: their acks will never come.
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->second.node == node ? pending_.erase(it) : std::next(it);
  }
  if (Waiting()) return {};
  switch (phase_) {
    case RolloutPhase::kDraining:
      return drain_acked_ ? std::vector<AgentCommand>{} : NextDrain(now);
    case RolloutPhase::kReleasing:
      SetPhase(RolloutPhase::kDone, now);
      return {};
    default:
      return {};
  }
}

std::vector<AgentCommand> Rollout::Tick(TimePoint now) {
  const Duration in_phase = now - phase_at_;
  switch (phase_) {
    case RolloutPhase::kPreparing:
      if (in_phase >= options_.prepare_timeout) return AbortNow("prepare timed out", now);
      return {};
    case RolloutPhase::kCommitting:
      if (in_phase >= options_.commit_timeout) return AbortNow("commit timed out", now);
      return {};
    case RolloutPhase::kDraining:
      if (drain_acked_ && now - drained_at_ >= options_.drain_grace) return EnterRelease(now);
      if (in_phase >= options_.drain_timeout) {
        warnings_.push_back("drain timed out");
        pending_.clear();
        return EnterRelease(now);
      }
      return {};
    case RolloutPhase::kReleasing:
      if (in_phase >= options_.release_timeout) {
        warnings_.push_back("release timed out");
        pending_.clear();
        SetPhase(RolloutPhase::kDone, now);
      }
      return {};
    default:
      return {};
  }
}

Result<std::vector<AgentCommand>> Rollout::Abort(const std::string& reason, TimePoint now) {
  if (committed_) return FailedPrecondition("rollout already committed; it can no longer be aborted");
  if (finished()) return std::vector<AgentCommand>{};
  return AbortNow(reason, now);
}

}  // namespace edgesplit::orch
