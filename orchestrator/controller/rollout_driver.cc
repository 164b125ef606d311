// Driving a deployment's rollout: starting one for an adopted decision, and turning its phase
// changes into events, the committed epoch and the adaptation-time record.
#include <algorithm>

#include "common/base/log.h"
#include "orchestrator/controller/controller.h"
#include "orchestrator/controller/trust_rules.h"

namespace edgesplit::orch {

std::vector<StageTarget> Controller::Targets(const std::vector<planner::Stage>& stages) const {
  std::vector<StageTarget> out;
  for (const auto& s : stages) {
    const NodeRecord* n = registry_.Find(s.node);
    out.push_back({s.node, n ? n->data_address : "", s.first_layer, s.end_layer});
  }
  return out;
}

std::vector<planner::Stage> Controller::Plain(const std::vector<StageTarget>& t) {
  std::vector<planner::Stage> out;
  for (const auto& s : t) out.push_back({s.node, s.first_layer, s.end_layer});
  return out;
}

void Controller::StartRollout(Deployment& d, const Decision& decision, TimePoint now) {
  RolloutSpec rs;
  rs.deployment = d.spec.name;
  rs.model = d.spec.model;
  rs.num_layers = catalog_.Find(d.spec.model)->num_layers();
  rs.from_epoch = d.epoch;
  rs.from = d.stages;
  // Nodes that are gone get no drain/unload.
  rs.from.erase(std::remove_if(rs.from.begin(), rs.from.end(), [&](const StageTarget& s) {
                  const NodeRecord* n = registry_.Find(s.node);
                  return !n || n->state == NodeState::kDead;
                }), rs.from.end());
  rs.to_epoch = ++d.max_epoch;
  rs.to = Targets(decision.stages);
  // Requests in flight through a node that stopped answering would wait for their deadline:
  // the entry resubmits them to the new epoch at commit.
  rs.retry_in_flight = std::any_of(d.stages.begin(), d.stages.end(), [&](const StageTarget& s) {
    const NodeRecord* n = registry_.Find(s.node);
    return !n || n->state != NodeState::kAlive;
  });
  // Live sessions copy their KV from the old stages unless the policy priced a rebuild cheaper
  // or an old stage is gone (its layers' KV went with it: the entry rebuilds).
  rs.kv_copy = decision.session_move != "rebuild" && !rs.retry_in_flight && rs.from.size() == d.stages.size();
  d.rollout = std::make_unique<Rollout>(rs, options_.rollout, &ids_);
  d.rollout_decision = decision;
  d.fault_at = now;
  if (decision.trigger == Trigger::kNodeLost) {
    // Adaptation time runs from when the node stopped answering.
    for (const auto& s : d.stages) {
      const NodeRecord* n = registry_.Find(s.node);
      if (n && n->state == NodeState::kDead) {
        TimePoint t = n->connected ? n->last_seen : std::min(n->last_seen, n->disconnected_at);
        if (!n->connected) t = n->disconnected_at;
        d.fault_at = std::min(d.fault_at, t);
      }
    }
  }
  d.status = d.epoch == 0 ? DeploymentStatus::kDeploying : DeploymentStatus::kReconfiguring;
  d.status_reason = std::string(DecisionKindName(decision.kind)) + " to epoch " + std::to_string(rs.to_epoch);
  dirty_ = true;
  Push(d.rollout->Start(now));
  AfterRollout(d, now);
}

void Controller::AfterRollout(Deployment& d, TimePoint now) {
  if (!d.rollout) return;
  Rollout& r = *d.rollout;
  for (RolloutPhase p : r.TakePhaseChanges()) {
    Event e;
    e.type = "rollout";
    e.deployment = d.spec.name;
    e.kind = RolloutPhaseName(p);
    e.trigger = TriggerName(d.rollout_decision.trigger);
    e.epoch = r.spec().to_epoch;
    e.duration_ms = ToMillis(now - r.started_at());
    e.predicted_gain_ms = d.rollout_decision.predicted_gain_ms;
    e.cost_ms = d.rollout_decision.cost_ms;
    if (p == RolloutPhase::kAborted) e.reason = r.abort_reason();
    if (p == RolloutPhase::kDraining || (p == RolloutPhase::kDone && r.committed() && d.epoch != r.spec().to_epoch)) {
      if (d.epoch != r.spec().to_epoch) {
        // Committed: new requests go to the new epoch.
        d.epoch = r.spec().to_epoch;
        d.stages = r.spec().to;
        // The entry is the first stage (the planner pins layer 0 to it); it moves only when the
        // old one lost the operator's trust, and the spec follows so a restart keeps it.
        if (!d.stages.empty()) d.spec.entry_node = d.stages.front().node;
        if (d.rollout_decision.kind != DecisionKind::kPlace || d.rollout_decision.trigger != Trigger::kInitial) {
          ++d.reconfigurations;
          d.weight_bytes_moved += d.rollout_decision.weight_bytes;
        }
        d.last_reconfiguration = now;
        d.baseline_ms = d.rollout_decision.candidate_ms;
        d.adopted_ms = d.rollout_decision.candidate_ms;
        d.recent_cost_ms.clear();  // a new plan: its own jitter
        d.status = DeploymentStatus::kServing;
        d.status_reason = std::string("epoch ") + std::to_string(d.epoch) + " committed";
        const double adapt = ToMillis(now - d.fault_at);
        adaptation_ms_.push_back(adapt);
        while (adaptation_ms_.size() > 64) adaptation_ms_.pop_front();
        CountReconfiguration(DecisionKindName(d.rollout_decision.kind), TriggerName(d.rollout_decision.trigger));
        e.reason = "committed; adaptation " + std::to_string(static_cast<int>(adapt)) + " ms";
        e.duration_ms = adapt;
        dirty_ = true;
      }
    }
    Emit(std::move(e), now);
  }
  if (r.finished()) {
    if (r.phase() == RolloutPhase::kAborted) {
      d.status = d.epoch > 0 ? DeploymentStatus::kServing : DeploymentStatus::kDeploying;
      d.status_reason = "rollout aborted: " + r.abort_reason();
      // Retry soon: an aborted rollout leaves the trigger in place.
      d.last_eval = now;
      d.last_reconfiguration = now;  // cool-down also after an abort, so it never flaps
    }
    for (const auto& w : r.warnings()) LogWarn("rollout_warning").Kv("deployment", d.spec.name).Kv("warning", w);
    const bool done = r.phase() == RolloutPhase::kDone;
    d.rollout.reset();
    // Trust was revoked while this rollout was past commit: re-plan now, not at the next tick.
    // (After an abort the periodic evaluation retries, so a failing rollout cannot spin.)
    if (done && !in_trust_replan_ && !TrustViolation(d.stages, d.spec.trusted_prefix_layers, registry_).empty()) {
      in_trust_replan_ = true;
      Evaluate(d, Trigger::kTrustChange, now);
      in_trust_replan_ = false;
    }
  }
}

}  // namespace edgesplit::orch
