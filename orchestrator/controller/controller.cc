#include "orchestrator/controller/controller.h"

#include <algorithm>
#include <cmath>

#include "common/base/log.h"
#include "orchestrator/controller/trust_rules.h"

namespace edgesplit::orch {

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
  e.live_sessions = dec.live_sessions;
  e.session_cost_ms = dec.session_cost_ms;
  e.session_move = dec.session_move;
  e.kv_bytes = dec.kv_bytes;
  for (const auto& s : dec.stages) {
    if (!e.stages.empty()) e.stages += " -> ";
    e.stages += s.node + "[" + std::to_string(s.first_layer) + "," + std::to_string(s.end_layer) + ")";
  }
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

// ---------------------------------------------------------------- API

Result<const Deployment*> Controller::CreateDeployment(DeploymentSpec spec, TimePoint now) {
  ES_RETURN_IF_ERROR(spec.Validate());
  if (deployments_.count(spec.name)) return AlreadyExists("deployment " + spec.name + " already exists");
  if (deployments_.size() >= options_.max_deployments) return ResourceExhausted("deployment limit reached");
  if (!catalog_.Find(spec.model)) return NotFound("unknown model " + spec.model);
  ES_ASSIGN_OR_RETURN(auto inst, BuildInstance(spec));
  spec.entry_node = inst.source;
  // Like the entry, the context default is fixed at creation, so the spec shows what is reserved.
  ES_ASSIGN_OR_RETURN(spec.kv_context_tokens, KvContextTokens(spec, catalog_.Find(spec.model)->manifest));
  planner::PlannerOptions po = PlannerOptionsNow();
  planner::PlanResult r = planner::Plan(inst, po);
  if (r.status == planner::PlanStatus::kInfeasible) return FailedPrecondition("infeasible: " + r.reason);
  Deployment& d = deployments_[spec.name];
  d.spec = spec;
  d.created_at = now;
  d.last_eval = now;
  d.last_reconfiguration = now;
  d.last_mode_plan = now;
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
  const bool was = registry_.IsTrusted(node);
  ES_RETURN_IF_ERROR(registry_.SetTrusted(node, trusted));
  dirty_ = true;  // trust decisions are persisted
  Event e;
  e.type = "node";
  e.node = node;
  e.kind = trusted ? "trusted" : "untrusted";
  e.reason = std::string("operator decision") + (registry_.Find(node) ? "" : " (node not registered yet)");
  Emit(std::move(e), now);
  if (was == trusted) return Status::Ok();
  for (auto& [name, d] : deployments_) {
    if (d.status == DeploymentStatus::kAdopting) continue;  // evaluated once re-adopted
    if (d.rollout && !d.rollout->finished()) {
      // A grant waits for the rollout in flight (the periodic evaluation sees it). A revocation
      // aborts a rollout that has not committed yet if its new plan relies on the node; after
      // commit the rollout completes and AfterRollout re-plans at once.
      if (trusted || d.rollout->committed()) continue;
      if (TrustViolation(d.rollout->spec().to, d.spec.trusted_prefix_layers, registry_).empty()) continue;
      if (auto cmds = d.rollout->Abort("node " + node + " is no longer trusted", now); cmds.ok()) Push(std::move(*cmds));
      AfterRollout(d, now);
    }
    // A revocation that breaks the committed plan is a "current plan no longer works" decision:
    // the policy replaces it at once, cool-down or not.
    Evaluate(d, Trigger::kTrustChange, now);
  }
  return Status::Ok();
}

Result<Route> Controller::RouteFor(const std::string& deployment) const {
  auto it = deployments_.find(deployment);
  if (it == deployments_.end()) return NotFound("unknown deployment " + deployment);
  const Deployment& d = it->second;
  if (d.epoch == 0 || d.stages.empty()) return Unavailable("deployment " + deployment + " has no committed plan yet");
  // Trust was revoked from a node this epoch relies on: nothing new goes to it; requests wait
  // (within their deadline) for the epoch that moves off it.
  if (std::string why = TrustViolation(d.stages, d.spec.trusted_prefix_layers, registry_); !why.empty())
    return Unavailable("deployment " + deployment + " epoch " + std::to_string(d.epoch) + " is on hold: " + why +
                       "; waiting for the next epoch");
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
