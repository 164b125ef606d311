// The agent channel: registration, heartbeats, disconnects and acks, fencing of stale
// segments, link probes, and Tick (timeouts, rollout timers, re-adoption, periodic evaluation).
#include <algorithm>

#include "common/base/log.h"
#include "orchestrator/controller/controller.h"

namespace edgesplit::orch {

Result<RegisterKind> Controller::OnRegister(const RegisterInfo& info, TimePoint now) {
  std::vector<NodeTransition> ts;
  auto kind = registry_.Register(info, now, &ts);
  if (!kind.ok()) return kind;
  HandleTransitions(ts, now);
  if (*kind == RegisterKind::kRestarted || *kind == RegisterKind::kRejoined) {
    // A restarted agent lost its segments; any rollout waiting on it must not wait forever.
    for (auto& [name, d] : deployments_) {
      if (d.rollout && !d.rollout->finished()) Push(d.rollout->OnNodeLost(info.node, now));
    }
  }
  if (*kind != RegisterKind::kReconnected) scale_memory_.erase(info.node);  // a new incarnation
  if (const NodeRecord* n = registry_.Find(info.node)) Fence(*n, now);
  return kind;
}

Status Controller::OnHeartbeat(const std::string& node, uint64_t seq, const CapacityReport& profile, TimePoint now) {
  std::vector<NodeTransition> ts;
  Status s = registry_.Heartbeat(node, seq, profile, now, &ts);
  if (!s.ok()) return s;
  HandleTransitions(ts, now);
  // Heartbeats repeat the agent's last probe results; probe acks (OnAck) are fresher and win.
  for (const auto& l : profile.links) {
    if (l.peer.empty() || links_[node].count(l.peer)) continue;
    if (l.error.empty() && l.bandwidth_mbps > 0) links_[node][l.peer] = l;
  }
  if (const NodeRecord* n = registry_.Find(node)) {
    RememberScales(*n, now);
    Fence(*n, now);
  }
  return Status::Ok();
}

void Controller::RememberScales(const NodeRecord& n, TimePoint now) {
  for (const auto& s : n.profile.segments) {
    const CatalogModel* m = catalog_.Find(s.model);
    if (!m) continue;
    const double scale = MeasuredScale(*m, n);
    if (scale > 0) scale_memory_[n.name][m->name] = {scale, n.profile.speed_factor, now};
  }
}

void Controller::ForgetStaleScales(TimePoint now) {
  for (auto it = scale_memory_.begin(); it != scale_memory_.end();) {
    const NodeRecord* n = registry_.Find(it->first);
    for (auto jt = it->second.begin(); jt != it->second.end();) {
      const RememberedScale& r = jt->second;
      const double sf = n ? n->profile.speed_factor : 0;
      const bool probe_moved = r.speed_factor > 0 && sf > 0 && (sf > 1.5 * r.speed_factor || r.speed_factor > 1.5 * sf);
      jt = (!n || now - r.at > kScaleMemoryAge || probe_moved) ? it->second.erase(jt) : std::next(jt);
    }
    it = it->second.empty() ? scale_memory_.erase(it) : std::next(it);
  }
}

ScaleMemory Controller::RememberedScales() const {
  ScaleMemory out;
  for (const auto& [node, models] : scale_memory_)
    for (const auto& [model, r] : models) out[node][model] = r.scale;
  return out;
}

void Controller::OnDisconnect(const std::string& node, TimePoint now) {
  std::vector<NodeTransition> ts;
  registry_.Disconnected(node, now, &ts);
  HandleTransitions(ts, now);
}

void Controller::OnAck(const std::string& node, const AckInfo& ack, TimePoint now) {
  for (const auto& l : ack.links) {
    if (l.error.empty() && l.bandwidth_mbps > 0) {
      links_[node][l.peer] = l;
    } else if (!l.error.empty() && !l.peer.empty()) {
      // A probe that cannot finish means the link is (nearly) unusable now: price it so.
      LinkReport bad = l;
      bad.bandwidth_mbps = kFailedProbeMbps;
      bad.rtt_ms = std::max(l.rtt_ms, 100.0);
      bad.error.clear();
      links_[node][l.peer] = bad;
    }
  }
  for (auto& [name, d] : deployments_) {
    if (d.rollout && d.rollout->Owns(ack.command_id)) {
      Push(d.rollout->OnAck(ack.command_id, ack.ok, ack.error_code.empty() ? ack.error : ack.error_code + ": " + ack.error, now));
      AfterRollout(d, now);
      return;
    }
  }
  if (!ack.ok) LogWarn("command_failed").Kv("node", node).Kv("id", ack.command_id).Kv("error", ack.error);
}

void Controller::HandleTransitions(const std::vector<NodeTransition>& ts, TimePoint now) {
  for (const auto& t : ts) {
    Event e;
    e.type = "node";
    e.node = t.node;
    e.kind = NodeStateName(t.to);
    e.reason = t.reason;
    Emit(std::move(e), now);
    if (t.to == NodeState::kDead) {
      for (auto& [name, d] : deployments_) {
        if (d.rollout && !d.rollout->finished()) {
          Push(d.rollout->OnNodeLost(t.node, now));
          AfterRollout(d, now);
        }
        bool uses = std::any_of(d.stages.begin(), d.stages.end(), [&](const StageTarget& s) { return s.node == t.node; });
        if (uses && d.status != DeploymentStatus::kAdopting) Evaluate(d, Trigger::kNodeLost, now);
      }
    }
  }
}

void Controller::Fence(const NodeRecord& node, TimePoint now) {
  if (now - started_at_ < options_.adopt_grace) return;
  for (const auto& s : node.profile.segments) {
    if (s.state == "unloaded" || s.state == "failed") continue;
    auto it = deployments_.find(s.deployment);
    bool stale = false;
    if (it == deployments_.end()) {
      stale = true;
    } else {
      const Deployment& d = it->second;
      if (d.status == DeploymentStatus::kAdopting) continue;
      bool current = s.epoch == d.epoch && std::any_of(d.stages.begin(), d.stages.end(), [&](const StageTarget& t) {
                       return t.node == node.name;
                     });
      bool in_rollout = d.rollout && !d.rollout->finished() &&
                        (s.epoch == d.rollout->spec().to_epoch || s.epoch == d.rollout->spec().from_epoch);
      stale = !current && !in_rollout;
    }
    if (!stale) continue;
    const std::string key = node.name + "/" + s.deployment + "/" + std::to_string(s.epoch);
    auto f = fenced_.find(key);
    if (f != fenced_.end() && now - f->second < options_.fence_retry) continue;
    fenced_[key] = now;
    AgentCommand c;
    c.id = ids_.Take();
    c.node = node.name;
    c.kind = CommandKind::kUnload;
    c.deployment = s.deployment;
    c.epoch = s.epoch;
    outbox_.push_back(c);
    Event e;
    e.type = "node";
    e.node = node.name;
    e.deployment = s.deployment;
    e.kind = "fenced";
    e.epoch = s.epoch;
    e.reason = "segment of a stale epoch or unknown deployment: unloading";
    Emit(std::move(e), now);
  }
}

void Controller::MaybeProbe(TimePoint now) {
  if (options_.probe_interval <= Duration::zero() || now - last_probe_ < options_.probe_interval) return;
  last_probe_ = now;
  auto alive = registry_.AliveNodes();
  if (alive.size() < 2 || alive.size() > 64) return;
  for (const auto& n : alive) {
    AgentCommand c;
    c.id = ids_.Take();
    c.node = n;
    c.kind = CommandKind::kProbe;
    c.probe_bytes = options_.probe_bytes;
    for (const auto& p : alive) {
      if (p != n) c.peers.emplace_back(p, registry_.Find(p)->data_address);
    }
    outbox_.push_back(std::move(c));
  }
}

void Controller::Tick(TimePoint now) {
  if (!started_) {
    started_ = true;
    started_at_ = now;
    last_probe_ = now;
  }
  HandleTransitions(registry_.Tick(now), now);
  ForgetStaleScales(now);
  MaybeProbe(now);
  for (auto& [name, d] : deployments_) {
    if (d.rollout) {
      Push(d.rollout->Tick(now));
      AfterRollout(d, now);
    }
    while (!d.observed_ms.empty() && now - d.observed_ms.front().first > options_.policy.slo_window) d.observed_ms.pop_front();
    if (d.status == DeploymentStatus::kAdopting) {
      bool all = !d.stages.empty();
      for (const auto& s : d.stages) {
        const NodeRecord* n = registry_.Find(s.node);
        // Named copies, not the structured binding `d`: clang before 16 cannot capture one.
        const std::string& dname = d.spec.name;
        const uint64_t depoch = d.epoch;
        bool has = n && n->state == NodeState::kAlive &&
                   std::any_of(n->profile.segments.begin(), n->profile.segments.end(), [&](const SegmentReport& r) {
                     return r.deployment == dname && r.epoch == depoch;
                   });
        all = all && has;
      }
      if (all || now >= d.adopt_deadline) {
        d.status = DeploymentStatus::kServing;
        d.status_reason = all ? "re-adopted from agent reports" : "adoption grace over";
        Event e;
        e.type = "deployment";
        e.deployment = name;
        e.kind = "adopted";
        e.epoch = d.epoch;
        e.reason = d.status_reason;
        Emit(std::move(e), now);
        d.last_eval = now - options_.policy.evaluate_interval;
      } else {
        continue;
      }
    }
    if (now - d.last_eval >= options_.policy.evaluate_interval) Evaluate(d, Trigger::kPeriodic, now);
  }
}

}  // namespace edgesplit::orch
