#include "orchestrator/daemon/controller.h"

#include <algorithm>
#include <cmath>

#include "common/base/log.h"
#include "orchestrator/planner/assignment.h"

namespace edgesplit::orch {

const char* DeploymentStatusName(DeploymentStatus s) {
  switch (s) {
    case DeploymentStatus::kDeploying: return "deploying";
    case DeploymentStatus::kServing: return "serving";
    case DeploymentStatus::kReconfiguring: return "reconfiguring";
    case DeploymentStatus::kDegraded: return "degraded";
    case DeploymentStatus::kAdopting: return "adopting";
  }
  return "unknown";
}

Status DeploymentSpec::Validate() const {
  std::string e;
  auto valid_name = [](const std::string& n) {
    return !n.empty() && n.size() <= 64 &&
           std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; });
  };
  if (!valid_name(name)) e += "name must be 1-64 characters of [A-Za-z0-9._-]; ";
  if (model.empty()) e += "model is required; ";
  if (!(slo_latency_ms >= 0) || !std::isfinite(slo_latency_ms)) e += "slo_latency_ms must be >= 0; ";
  if (trusted_prefix_layers < 0) e += "trusted_prefix_layers must be >= 0; ";
  if (max_stages < 0) e += "max_stages must be >= 0; ";
  if (objective.kind == planner::ObjectiveKind::kMixed && !(objective.alpha >= 0 && objective.beta >= 0))
    e += "objective alpha and beta must be >= 0; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

Status ControllerOptions::Validate() const {
  std::string e;
  for (const Status& s : {registry.Validate(), rollout.Validate(), policy.Validate()}) {
    if (!s.ok()) e += s.message() + "; ";
  }
  if (!(default_link.bandwidth_mbps > 0)) e += "default_link.bandwidth_mbps must be > 0; ";
  if (!(default_link.latency_ms >= 0)) e += "default_link.latency_ms must be >= 0; ";
  if (!(planner_time_limit_ms > 0)) e += "planner_time_limit_ms must be > 0; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

double Deployment::ObservedP50(TimePoint now, Duration window) const {
  std::vector<double> v;
  for (const auto& [t, ms] : observed_ms) {
    if (now - t <= window) v.push_back(ms);
  }
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

Controller::Controller(ControllerOptions options, ModelCatalog catalog)
    : options_(std::move(options)), catalog_(std::move(catalog)), registry_(options_.registry) {}

void Controller::Push(std::vector<AgentCommand> cmds) {
  for (auto& c : cmds) outbox_.push_back(std::move(c));
}

std::vector<AgentCommand> Controller::TakeOutbox() {
  std::vector<AgentCommand> out;
  out.swap(outbox_);
  return out;
}

bool Controller::TakeDirty() {
  bool d = dirty_;
  dirty_ = false;
  return d;
}

void Controller::Emit(Event e, TimePoint now) {
  e.at = now;
  const Event& added = events_.Add(std::move(e));
  LogInfo("event")
      .Kv("seq", added.seq).Kv("type", added.type).Kv("deployment", added.deployment).Kv("node", added.node)
      .Kv("kind", added.kind).Kv("trigger", added.trigger).Kv("epoch", added.epoch)
      .Kv("gain_ms", added.predicted_gain_ms).Kv("cost_ms", added.cost_ms).Kv("reason", added.reason);
}

void Controller::EmitDecision(const Deployment& d, const Decision& dec, TimePoint now) {
  Event e;
  e.type = "decision";
  e.deployment = d.spec.name;
  e.kind = DecisionKindName(dec.kind);
  e.trigger = TriggerName(dec.trigger);
  e.reason = dec.reason;
  e.predicted_gain_ms = dec.predicted_gain_ms;
  e.cost_ms = dec.cost_ms;
  e.current_ms = dec.current_ms;
  e.candidate_ms = dec.candidate_ms;
  e.epoch = d.epoch;
  Emit(std::move(e), now);
}

void Controller::CountReconfiguration(const std::string& kind, const std::string& reason) {
  for (auto& c : reconfig_counts_) {
    if (c.kind == kind && c.reason == reason) {
      ++c.count;
      return;
    }
  }
  reconfig_counts_.push_back({kind, reason, 1});
}

// ---------------------------------------------------------------- agent channel

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
  if (const NodeRecord* n = registry_.Find(node)) Fence(*n, now);
  return Status::Ok();
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
        bool has = n && n->state == NodeState::kAlive &&
                   std::any_of(n->profile.segments.begin(), n->profile.segments.end(), [&](const SegmentReport& r) {
                     return r.deployment == d.spec.name && r.epoch == d.epoch;
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

// ---------------------------------------------------------------- planning

Result<planner::PlanningInstance> Controller::BuildInstance(const DeploymentSpec& spec) const {
  const CatalogModel* m = catalog_.Find(spec.model);
  if (!m) return NotFound("unknown model " + spec.model);
  planner::PlanningInstance inst;
  inst.model.name = m->name;
  inst.model.input_bytes = static_cast<double>(m->InputBytes());
  for (int i = 0; i < m->num_layers(); ++i) {
    inst.model.layers.push_back({m->manifest.layers[i].name, m->reference_layer_ms[i],
                                 static_cast<double>(m->manifest.layers[i].param_bytes),
                                 static_cast<double>(m->OutputBytes(i))});
  }
  std::vector<const NodeRecord*> nodes;
  for (const auto& [name, n] : registry_.nodes()) {
    if (n.state != NodeState::kAlive) continue;
    if (!n.models.empty() && std::find(n.models.begin(), n.models.end(), spec.model) == n.models.end()) continue;
    nodes.push_back(&n);
  }
  if (nodes.empty()) return FailedPrecondition("no alive node can serve model " + spec.model);
  // Site calibration: the median measured/reference ratio of the nodes that measured this model.
  double calibration = 1.0;
  {
    std::vector<double> ratios;
    for (const NodeRecord* n : nodes) {
      double r = MeasuredRatio(*m, *n);
      if (r > 0) ratios.push_back(r);
    }
    if (!ratios.empty()) {
      std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
      calibration = ratios[ratios.size() / 2];
    }
  }
  for (const NodeRecord* n : nodes) {
    planner::NodeSpec ns;
    ns.name = n->name;
    ns.speed = n->EffectiveSpeed();
    double mem = n->profile.memory_available_bytes > 0 ? static_cast<double>(n->profile.memory_available_bytes) : 64e9;
    // Weights this node already holds for this deployment stay usable by the next plan.
    for (const auto& s : n->profile.segments) {
      if (s.deployment != spec.name || s.model != m->name) continue;
      for (int l = std::max(0, s.first_layer); l < s.end_layer && l < m->num_layers(); ++l)
        mem += static_cast<double>(m->manifest.layers[l].param_bytes);
    }
    ns.memory_bytes = mem;
    ns.trusted = n->trusted;
    ns.compute_ms = LayerCostsOn(*m, *n, 20, calibration);
    inst.nodes.push_back(std::move(ns));
  }
  inst.links.default_link = options_.default_link;
  if (nodes.size() <= 64) {
    for (const NodeRecord* u : nodes) {
      for (const NodeRecord* v : nodes) {
        if (u == v) continue;
        planner::LinkSpec link = options_.default_link;
        bool set = false;
        auto lu = links_.find(u->name);
        if (lu != links_.end()) {
          auto lv = lu->second.find(v->name);
          if (lv != lu->second.end()) {
            link.bandwidth_mbps = lv->second.bandwidth_mbps;
            link.latency_ms = std::max(0.0, lv->second.rtt_ms / 2);
            set = true;
          }
        }
        if (u->profile.egress_mbps > 0 && u->profile.egress_mbps < link.bandwidth_mbps) {
          link.bandwidth_mbps = u->profile.egress_mbps;
          set = true;
        }
        if (set) inst.links.pairs.push_back({u->name, v->name, link, false});
      }
    }
  }
  std::string source = spec.entry_node;
  if (source.empty()) {
    double best = -1;
    for (const NodeRecord* n : nodes) {
      if (n->trusted && n->EffectiveSpeed() > best) {
        best = n->EffectiveSpeed();
        source = n->name;
      }
    }
    if (source.empty()) source = nodes.front()->name;
  }
  if (std::none_of(nodes.begin(), nodes.end(), [&](const NodeRecord* n) { return n->name == source; }))
    return FailedPrecondition("entry node " + source + " is not alive");
  inst.source = source;
  // The data plane returns results to the entry (the first stage), and clients talk to it: the
  // entry is the source, so layer 0 stays there and the planner's cost model matches reality
  // (no result transfer it did not price), and the entry address never moves.
  inst.constraints.pinned[0] = source;
  inst.constraints.trusted_prefix_layers = std::min(spec.trusted_prefix_layers, m->num_layers());
  inst.constraints.max_stages = spec.max_stages;
  inst.objective = spec.objective;
  ES_RETURN_IF_ERROR(planner::ValidateInstance(inst));
  return inst;
}

Result<planner::PlanResult> Controller::PreviewPlan(const DeploymentSpec& spec) const {
  ES_RETURN_IF_ERROR(spec.Validate());
  ES_ASSIGN_OR_RETURN(auto inst, BuildInstance(spec));
  planner::PlannerOptions po = PlannerOptionsNow();
  return planner::Plan(inst, po);
}

planner::PlannerOptions Controller::PlannerOptionsNow() const {
  planner::PlannerOptions po;
  po.time_limit_ms = options_.planner_time_limit_ms;
  if (const Clock* clock = options_.planner_clock) {
    const TimePoint start = clock->Now();
    po.elapsed_ms = [clock, start] { return ToMillis(clock->Now() - start); };
  }
  return po;
}

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

void Controller::Evaluate(Deployment& d, Trigger hint, TimePoint now) {
  d.last_eval = now;
  if (d.rollout && !d.rollout->finished()) return;  // one reconfiguration in flight
  const CatalogModel* m = catalog_.Find(d.spec.model);
  if (!m) return;
  PolicyInput in;
  in.now = now;
  in.last_reconfiguration = d.last_reconfiguration;
  in.adopted_ms = d.adopted_ms;
  in.has_current = d.epoch > 0;
  in.current = Plain(d.stages);
  in.request_rate = 0;
  {
    size_t n = 0;
    for (const auto& [t, ms] : d.observed_ms) n += now - t <= options_.policy.slo_window ? 1 : 0;
    in.request_rate = static_cast<double>(n) / std::max(1e-3, ToSeconds(options_.policy.slo_window));
  }
  auto inst = BuildInstance(d.spec);
  std::set<std::string> alive;
  for (const auto& n : registry_.AliveNodes()) alive.insert(n);
  Trigger trigger = hint;
  if (!inst.ok()) {
    Decision dec;
    dec.kind = DecisionKind::kNone;
    dec.trigger = trigger;
    dec.reason = "cannot plan: " + inst.status().message();
    if (d.status != DeploymentStatus::kDegraded || d.status_reason != dec.reason) {
      d.status = d.epoch > 0 ? DeploymentStatus::kDegraded : DeploymentStatus::kDeploying;
      d.status_reason = dec.reason;
      EmitDecision(d, dec, now);
    }
    return;
  }
  if (in.has_current) {
    for (const auto& s : d.stages) {
      if (!alive.count(s.node)) {
        in.current_valid = false;
        in.current_invalid_reason = "node " + s.node + " is not alive";
        trigger = Trigger::kNodeLost;
        break;
      }
      in.current_valid = true;
    }
    if (in.current_valid) {
      auto cost = planner::Evaluate(*inst, in.current);
      if (!cost.feasible) {
        in.current_valid = false;
        in.current_invalid_reason = cost.violation;
        if (trigger != Trigger::kNodeLost) trigger = Trigger::kTrustChange;
      } else {
        in.current_ms = cost.value;
      }
    }
    if (trigger == Trigger::kPeriodic) {
      bool joined = std::any_of(alive.begin(), alive.end(), [&](const std::string& n) { return !d.nodes_seen.count(n); });
      const double p50 = d.ObservedP50(now, options_.policy.slo_window);
      if (joined && !d.nodes_seen.empty()) {
        trigger = Trigger::kNodeJoined;
      } else if (d.spec.slo_latency_ms > 0 && p50 > d.spec.slo_latency_ms &&
                 now - d.last_slo_event >= options_.policy.slo_window) {
        trigger = Trigger::kSloBreach;
        d.last_slo_event = now;
      } else if (in.current_valid && d.baseline_ms > 0 &&
                 std::abs(in.current_ms - d.baseline_ms) > options_.policy.drift_fraction * d.baseline_ms) {
        trigger = Trigger::kProfileDrift;
      }
    }
  }
  d.nodes_seen = alive;
  planner::PlannerOptions po = PlannerOptionsNow();
  planner::PlanResult r = planner::Plan(*inst, po);
  // Migration vs re-split (DESIGN.md): with a plan deployed, also find the best nodes for the
  // current cuts, and propose that unless new cuts win by the re-split margin.
  if (in.has_current && r.status != planner::PlanStatus::kInfeasible && !SameCuts(in.current, r.stages)) {
    planner::PlanResult same = planner::AssignNodes(*inst, planner::RangesOf(in.current));
    if (same.status != planner::PlanStatus::kInfeasible && PreferSameCuts(options_.policy, r.value, same.value)) {
      in.passed_over_resplit_ms = r.value;
      r = std::move(same);
    }
  }
  in.trigger = trigger;
  in.candidate_feasible = r.status != planner::PlanStatus::kInfeasible;
  in.candidate_reason = r.reason;
  if (in.candidate_feasible) {
    in.candidate = r.stages;
    in.candidate_ms = r.value;
    std::vector<double> params;
    for (const auto& l : m->manifest.layers) params.push_back(static_cast<double>(l.param_bytes));
    in.migration_cost_ms = FetchMs(BytesToMove(in.current, r.stages, params), options_.policy.weight_fetch_mbps);
  }
  // A voluntary change must name the same plan on several consecutive evaluations (noise filter).
  if (in.candidate_feasible && in.candidate != in.current) {
    d.confirmations = (r.stages == d.pending_candidate) ? d.confirmations + 1 : 1;
    d.pending_candidate = r.stages;
    // The adoption is credited to what started the sequence (e.g. the drift), not to "periodic".
    if (d.confirmations == 1 || d.pending_trigger == Trigger::kPeriodic) d.pending_trigger = trigger;
    if (trigger == Trigger::kPeriodic) trigger = d.pending_trigger;
  } else {
    d.confirmations = 0;
    d.pending_candidate.clear();
  }
  in.confirmations = d.confirmations;
  in.trigger = trigger;
  Decision dec = Decide(options_.policy, in);
  if (dec.adopt()) {
    d.confirmations = 0;
    d.pending_candidate.clear();
    d.predicted_latency_ms = r.latency_ms;
    d.predicted_period_ms = r.period_ms;
    EmitDecision(d, dec, now);
    StartRollout(d, dec, now);
    return;
  }
  if (dec.kind == DecisionKind::kNone) {
    if (d.status_reason != dec.reason) {
      d.status = d.epoch > 0 ? DeploymentStatus::kDegraded : DeploymentStatus::kDeploying;
      d.status_reason = dec.reason;
      EmitDecision(d, dec, now);
    }
    return;
  }
  // Kept the plan: an event whenever something prompted the evaluation.
  // Repeats of the same kept-plan trigger are recorded at most once per cool-down period, so a
  // noisy profile cannot flood the event log.
  if (trigger != Trigger::kPeriodic) {
    if (d.last_keep_trigger != TriggerName(trigger) || now - d.last_keep_event >= options_.policy.cooldown) {
      EmitDecision(d, dec, now);
      d.last_keep_event = now;
      d.last_keep_trigger = TriggerName(trigger);
    }
    if (in.current_valid) d.baseline_ms = in.current_ms;
  }
  if (in.current_valid && d.baseline_ms <= 0) d.baseline_ms = in.current_ms;
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
        d.last_reconfiguration = now;
        d.baseline_ms = d.rollout_decision.candidate_ms;
        d.adopted_ms = d.rollout_decision.candidate_ms;
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
    d.rollout.reset();
  }
}

// ---------------------------------------------------------------- API

Result<const Deployment*> Controller::CreateDeployment(DeploymentSpec spec, TimePoint now) {
  ES_RETURN_IF_ERROR(spec.Validate());
  if (deployments_.count(spec.name)) return AlreadyExists("deployment " + spec.name + " already exists");
  if (deployments_.size() >= options_.max_deployments) return ResourceExhausted("deployment limit reached");
  if (!catalog_.Find(spec.model)) return NotFound("unknown model " + spec.model);
  ES_ASSIGN_OR_RETURN(auto inst, BuildInstance(spec));
  spec.entry_node = inst.source;
  planner::PlannerOptions po = PlannerOptionsNow();
  planner::PlanResult r = planner::Plan(inst, po);
  if (r.status == planner::PlanStatus::kInfeasible) return FailedPrecondition("infeasible: " + r.reason);
  Deployment& d = deployments_[spec.name];
  d.spec = spec;
  d.created_at = now;
  d.last_eval = now;
  d.last_reconfiguration = now;
  d.predicted_latency_ms = r.latency_ms;
  d.predicted_period_ms = r.period_ms;
  for (const auto& n : registry_.AliveNodes()) d.nodes_seen.insert(n);
  Decision dec;
  dec.kind = DecisionKind::kPlace;
  dec.trigger = Trigger::kInitial;
  dec.reason = "initial placement (" + std::string(planner::PlanStatusName(r.status)) + ")";
  dec.candidate_ms = r.value;
  dec.stages = r.stages;
  EmitDecision(d, dec, now);
  StartRollout(d, dec, now);
  dirty_ = true;
  return &d;
}

Status Controller::DeleteDeployment(const std::string& name, TimePoint now) {
  auto it = deployments_.find(name);
  if (it == deployments_.end()) return NotFound("unknown deployment " + name);
  Deployment& d = it->second;
  std::set<std::pair<std::string, uint64_t>> unload;
  for (const auto& s : d.stages) unload.insert({s.node, d.epoch});
  if (d.rollout && !d.rollout->finished()) {
    for (const auto& s : d.rollout->spec().to) unload.insert({s.node, d.rollout->spec().to_epoch});
    for (const auto& s : d.rollout->spec().from) unload.insert({s.node, d.rollout->spec().from_epoch});
  }
  for (const auto& [node, epoch] : unload) {
    const NodeRecord* n = registry_.Find(node);
    if (!n || n->state == NodeState::kDead || epoch == 0) continue;
    AgentCommand c;
    c.id = ids_.Take();
    c.node = node;
    c.kind = CommandKind::kUnload;
    c.deployment = name;
    c.epoch = epoch;
    outbox_.push_back(c);
  }
  Event e;
  e.type = "deployment";
  e.deployment = name;
  e.kind = "deleted";
  e.epoch = d.epoch;
  deployments_.erase(it);
  Emit(std::move(e), now);
  dirty_ = true;
  return Status::Ok();
}

Status Controller::Reevaluate(const std::string& name, TimePoint now) {
  auto it = deployments_.find(name);
  if (it == deployments_.end()) return NotFound("unknown deployment " + name);
  if (it->second.rollout) return FailedPrecondition("a reconfiguration is in flight");
  Evaluate(it->second, Trigger::kManual, now);
  return Status::Ok();
}

Status Controller::SetPolicy(const PolicySettings& settings) {
  ES_RETURN_IF_ERROR(settings.Validate());
  options_.policy = settings;
  dirty_ = true;
  return Status::Ok();
}

Status Controller::SetTrusted(const std::string& node, bool trusted, TimePoint now) {
  ES_RETURN_IF_ERROR(registry_.SetTrusted(node, trusted));
  for (auto& [name, d] : deployments_) {
    if (d.status != DeploymentStatus::kAdopting) Evaluate(d, Trigger::kTrustChange, now);
  }
  return Status::Ok();
}

Result<Route> Controller::RouteFor(const std::string& deployment) const {
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return NotFound("unknown deployment " + deployment);
  const Deployment& d = it->second;
  if (d.epoch == 0 || d.stages.empty()) return Unavailable("deployment " + deployment + " has no committed plan yet");
  return Route{d.stages.front().node, d.stages.front().data_address, d.epoch};
}

void Controller::ObserveRequest(const std::string& deployment, double latency_ms, bool ok, TimePoint now) {
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return;
  Deployment& d = it->second;
  ++d.requests_total;
  if (!ok) {
    ++d.failures_total;
    return;
  }
  d.observed_ms.emplace_back(now, latency_ms);
  while (d.observed_ms.size() > 20000) d.observed_ms.pop_front();
}

void Controller::Restore(std::vector<Deployment> deployments, TimePoint now) {
  for (auto& d : deployments) {
    d.status = d.epoch > 0 ? DeploymentStatus::kAdopting : DeploymentStatus::kDeploying;
    d.status_reason = "restored from disk; waiting for agents to report";
    d.adopt_deadline = now + options_.adopt_grace;
    d.created_at = now;
    d.last_reconfiguration = now;
    d.last_eval = now;
    d.max_epoch = std::max(d.max_epoch, d.epoch);
    std::string name = d.spec.name;
    Event e;
    e.type = "deployment";
    e.deployment = name;
    e.kind = "restored";
    e.epoch = d.epoch;
    Emit(std::move(e), now);
    deployments_[name] = std::move(d);
  }
}

}  // namespace edgesplit::orch
