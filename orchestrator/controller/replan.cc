// Re-planning: what triggered an evaluation, the planner's candidate against the best nodes
// for the current cuts (migrate vs re-split), confirmation of voluntary changes, and the
// policy's decision.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "orchestrator/controller/controller.h"
#include "orchestrator/controller/load_estimate.h"
#include "orchestrator/controller/session_move.h"
#include "orchestrator/controller/trust_rules.h"
#include "orchestrator/planner/assignment.h"
#include "orchestrator/planner/load_model.h"

namespace edgesplit::orch {
namespace {

struct LiveSessions {
  int sessions = 0;
  double tokens = 0;
};

// The generation sessions streaming on `d`, as its entry reports them (every epoch still
// holding sessions counts: they all move to the next plan).
LiveSessions LiveSessionsOf(const Deployment& d, const NodeRegistry& registry) {
  LiveSessions out;
  if (d.stages.empty()) return out;
  const NodeRecord* entry = registry.Find(d.stages.front().node);
  if (!entry) return out;
  for (const auto& s : entry->profile.segments) {
    if (s.deployment != d.spec.name) continue;
    out.sessions += static_cast<int>(s.live_sessions);
    out.tokens += static_cast<double>(s.session_tokens);
  }
  return out;
}

// Requests sent straight to the entry never pass the gateway: the entry's own report of what it
// answered since its last heartbeat (the epoch that answered most; 0 when it answered none).
double EntryAnsweredP50(const Deployment& d, const NodeRegistry& registry) {
  if (d.stages.empty()) return 0;
  const NodeRecord* entry = registry.Find(d.stages.front().node);
  if (!entry || entry->state != NodeState::kAlive) return 0;
  uint32_t most = 0;
  double p50 = 0;
  for (const auto& s : entry->profile.segments)
    if (s.deployment == d.spec.name && s.answered > most) most = s.answered, p50 = s.answered_p50_ms;
  return p50;
}

// The length the layers' costs were profiled at (the nominal sequence length).
double NominalTokens(const Manifest& m) {
  if (m.input.seq_dim < 0 || m.input.seq_dim >= static_cast<int>(m.input.shape.size())) return 1;
  return static_cast<double>(m.input.shape[m.input.seq_dim]);
}

// Time constant of the pass rate's smoothing: a heartbeat's busy time covers a few requests.
constexpr double kPassRateTauS = 2.0;
// Evaluations of the current plan its cost jitter is measured over (5 s at the default 250 ms).
constexpr size_t kNoiseWindow = 20;

// What a plan is compared by: under the latency objective with the load term on, its response
// time at the measured pass rate (latency plus queueing, planner/load_model.h); otherwise the
// planner's objective value.
double ComparedMs(const planner::PlanningInstance& inst, const std::vector<planner::Stage>& stages, double value,
                  double passes_per_s) {
  if (inst.objective.kind != planner::ObjectiveKind::kLatency) return value;
  const planner::LoadedCost c = planner::EvaluateLoaded(inst, stages, passes_per_s);
  return c.feasible ? c.response_ms : value;
}

// "; at 9.8 passes/s (why) the busiest stage or hop goes from 96 % to 61 % utilised, ..."
std::string LoadText(double passes_per_s, const std::string& why, const planner::LoadedCost& now,
                     const planner::LoadedCost& next) {
  char b[320];
  std::snprintf(b, sizeof(b),
                "; at %.1f passes/s (%s) the busiest stage or hop goes from %.0f %% to %.0f %% utilised, queueing "
                "from %.1f to %.1f ms",
                passes_per_s, why.c_str(), 100 * now.utilisation, 100 * next.utilisation, now.wait_ms, next.wait_ms);
  return b;
}

// Stage nodes that registered again after the plan was committed and do not hold their
// segment (restarted agents); empty unless every stage node is alive.
std::vector<std::string> StagesWithoutSegment(const Deployment& d, const NodeRegistry& registry) {
  std::vector<std::string> out;
  for (const auto& s : d.stages) {
    const NodeRecord* n = registry.Find(s.node);
    if (!n || n->state != NodeState::kAlive) return {};
    if (n->registered_at <= d.last_reconfiguration) continue;
    const bool has = std::any_of(n->profile.segments.begin(), n->profile.segments.end(), [&](const SegmentReport& r) {
      return r.deployment == d.spec.name && r.epoch == d.epoch && r.state != "unloaded" && r.state != "failed";
    });
    if (!has) out.push_back(s.node);
  }
  return out;
}

}  // namespace

void Controller::HoldPlan(Deployment& d, const PolicyInput& in, TimePoint now) {
  if (in.current_valid) return;
  Decision dec;
  dec.kind = DecisionKind::kNone;
  dec.trigger = in.trigger;
  dec.reason = std::string(PolicyModeName(options_.policy.mode)) + " policy holds the plan: " + in.current_invalid_reason;
  if (d.status != DeploymentStatus::kDegraded || d.status_reason != dec.reason) {
    d.status = DeploymentStatus::kDegraded;
    d.status_reason = dec.reason;
    EmitDecision(d, dec, now);
  }
}

void Controller::ReloadPlan(Deployment& d, const std::vector<std::string>& nodes, const Manifest& m, TimePoint now) {
  Decision dec;
  dec.kind = DecisionKind::kPlace;
  dec.trigger = Trigger::kNodeJoined;
  dec.stages = Plain(d.stages);
  dec.current_ms = dec.candidate_ms = d.adopted_ms;
  std::string names;
  for (const auto& s : d.stages) {
    if (std::find(nodes.begin(), nodes.end(), s.node) == nodes.end()) continue;
    names += (names.empty() ? "" : ", ") + s.node;
    for (int l = s.first_layer; l < s.end_layer && l < static_cast<int>(m.layers.size()); ++l)
      dec.weight_bytes += static_cast<double>(m.layers[l].param_bytes);
  }
  dec.reason = std::string(PolicyModeName(options_.policy.mode)) + " policy: the same plan loaded again (" + names +
               " registered again without its segment)";
  EmitDecision(d, dec, now);
  StartRollout(d, dec, now);
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
  in.observed_recent_ms = d.ObservedP50(now, std::chrono::seconds(1));
  if (!(in.observed_recent_ms > 0)) in.observed_recent_ms = EntryAnsweredP50(d, registry_);
  in.has_current = d.epoch > 0;
  in.current = Plain(d.stages);
  in.request_rate = 0;
  {
    size_t n = 0;
    for (const auto& [t, ms] : d.observed_ms) n += now - t <= options_.policy.slo_window ? 1 : 0;
    in.request_rate = static_cast<double>(n) / std::max(1e-3, ToSeconds(options_.policy.slo_window));
  }
  // The entry must be trusted by the operator: when it no longer is, plan with the default
  // choice (the fastest trusted node); the spec takes the new entry when its epoch commits.
  DeploymentSpec spec = d.spec;
  if (!spec.entry_node.empty() && !registry_.IsTrusted(spec.entry_node)) spec.entry_node.clear();
  auto inst = BuildInstance(spec);
  std::set<std::string> alive;
  for (const auto& n : registry_.AliveNodes()) alive.insert(n);
  Trigger trigger = hint;
  // The measured load, when the latency objective's load term is on (policy.max_utilization),
  // smoothed over a few heartbeats.
  double passes = 0;
  if (inst.ok() && options_.policy.max_utilization > 0) {
    const double dt = d.pass_rate_at == TimePoint{} ? 0 : ToSeconds(now - d.pass_rate_at);
    d.pass_rate = SmoothedRate(d.pass_rate, PassRate(d.spec.name, registry_, *inst), dt, kPassRateTauS);
    d.pass_rate_at = now;
    passes = d.pass_rate;
  }
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
      if (std::string why = TrustViolation(d.stages, d.spec.trusted_prefix_layers, registry_); !why.empty()) {
        in.current_valid = false;
        in.current_invalid_reason = why;
        if (trigger != Trigger::kNodeLost) trigger = Trigger::kTrustChange;
      }
    }
    if (in.current_valid) {
      auto cost = planner::Evaluate(*inst, in.current);
      if (!cost.feasible) {
        in.current_valid = false;
        in.current_invalid_reason = cost.violation;
        if (trigger != Trigger::kNodeLost) trigger = Trigger::kTrustChange;
      } else {
        in.current_ms = ComparedMs(*inst, in.current, cost.value, passes);
        d.recent_cost_ms.push_back(in.current_ms);
        while (d.recent_cost_ms.size() > kNoiseWindow) d.recent_cost_ms.pop_front();
        in.noise_ms = CostNoiseMs({d.recent_cost_ms.begin(), d.recent_cost_ms.end()});
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
  // The policy mode (static, periodic) may hold the plan or only reload it. Privacy is not a
  // performance choice: a plan that breaks the trust rules is replaced in every mode.
  bool forced = false;
  if (in.has_current && trigger != Trigger::kTrustChange) {
    const std::vector<std::string> missing = StagesWithoutSegment(d, registry_);
    switch (GateFor(options_.policy, !missing.empty(), now, d.last_mode_plan)) {
      case ModeGate::kHold:
        HoldPlan(d, in, now);
        return;
      case ModeGate::kReload:
        ReloadPlan(d, missing, m->manifest, now);
        return;
      case ModeGate::kPlan:
        forced = options_.policy.mode == PolicyMode::kPeriodic;
        if (forced) d.last_mode_plan = now;
        break;
    }
  }
  // Under load the latency-optimal plan may saturate a stage: PlanForLoad weighs queueing too.
  planner::LoadedPlan lp = planner::PlanForLoad(
      *inst, [this] { return PlannerOptionsNow(); }, passes, options_.policy.max_utilization);
  planner::PlanResult& r = lp.plan;
  double candidate_ms = ComparedMs(*inst, r.stages, r.value, passes);
  // Migration vs re-split (DESIGN.md): with a plan deployed, also find the best nodes for the
  // current cuts (under the same utilisation cap), and propose that unless new cuts win by the
  // re-split margin.
  if (in.has_current && r.status != planner::PlanStatus::kInfeasible && !SameCuts(in.current, r.stages)) {
    planner::PlanResult same =
        planner::AssignNodes(planner::WithPeriodCap(*inst, lp.period_cap_ms), planner::RangesOf(in.current));
    const double same_ms = ComparedMs(*inst, same.stages, same.value, passes);
    if (same.status != planner::PlanStatus::kInfeasible && PreferSameCuts(options_.policy, candidate_ms, same_ms)) {
      in.passed_over_resplit_ms = candidate_ms;
      r = std::move(same);
      candidate_ms = same_ms;
      lp.why = "the best nodes for the current cuts";
    }
  }
  in.trigger = trigger;
  in.candidate_feasible = r.status != planner::PlanStatus::kInfeasible;
  in.candidate_reason = r.reason;
  if (in.candidate_feasible) {
    in.candidate = r.stages;
    in.candidate_ms = candidate_ms;
    std::vector<double> params;
    for (const auto& l : m->manifest.layers) params.push_back(static_cast<double>(l.param_bytes));
    in.weight_bytes = BytesToMove(in.current, r.stages, params);
    in.migration_cost_ms = FetchMs(in.weight_bytes, options_.policy.weight_fetch_mbps);
    // Live generation sessions move with the plan: priced as copying their KV or rebuilding it
    // on the new stages, whichever is cheaper (session_move.h).
    const LiveSessions live = LiveSessionsOf(d, registry_);
    in.live_sessions = live.sessions;
    if (live.sessions > 0 && in.has_current) {
      const double rebuild_ms =
          RebuildSessionsMs(planner::Evaluate(*inst, r.stages).latency_ms, NominalTokens(m->manifest), live.tokens);
      const SessionMove mv = PriceSessionMove(*inst, in.current, r.stages, live.sessions, live.tokens, rebuild_ms);
      in.session_cost_ms = mv.ms();
      in.session_move = mv.name();
      in.kv_bytes = mv.copy ? mv.kv_bytes : 0;
      in.session_other_ms = mv.copy ? mv.rebuild_ms : mv.copy_ms + mv.copy_stall_ms;
    }
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
  // A periodic re-plan decides once: no confirmation over several evaluations.
  in.confirmations = forced ? std::max(d.confirmations, options_.policy.confirm_evaluations) : d.confirmations;
  in.trigger = trigger;
  Decision dec = Decide(options_.policy, in);
  dec.weight_bytes = in.weight_bytes;
  if (dec.adopt() && in.has_current && !d.stages.empty() && !dec.stages.empty() &&
      dec.stages.front().node != d.stages.front().node)
    dec.reason += "; the entry moves from " + d.stages.front().node + " to " + dec.stages.front().node;
  if (dec.adopt() && passes > 0 && inst->objective.kind == planner::ObjectiveKind::kLatency) {
    const planner::LoadedCost now_cost = planner::EvaluateLoaded(*inst, in.current, passes);
    const planner::LoadedCost next_cost = planner::EvaluateLoaded(*inst, dec.stages, passes);
    if (now_cost.feasible && next_cost.feasible && now_cost.wait_ms + next_cost.wait_ms > 0)
      dec.reason += LoadText(passes, lp.why, now_cost, next_cost);
  }
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

}  // namespace edgesplit::orch
