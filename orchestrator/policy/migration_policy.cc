#include "orchestrator/policy/migration_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgesplit::orch {

const char* TriggerName(Trigger t) {
  switch (t) {
    case Trigger::kInitial: return "initial";
    case Trigger::kNodeLost: return "node_lost";
    case Trigger::kNodeJoined: return "node_joined";
    case Trigger::kSloBreach: return "slo_breach";
    case Trigger::kProfileDrift: return "profile_drift";
    case Trigger::kTrustChange: return "trust_change";
    case Trigger::kManual: return "manual";
    case Trigger::kPeriodic: return "periodic";
  }
  return "unknown";
}

const char* PolicyModeName(PolicyMode m) {
  switch (m) {
    case PolicyMode::kAdaptive: return "adaptive";
    case PolicyMode::kStatic: return "static";
    case PolicyMode::kPeriodic: return "periodic";
  }
  return "unknown";
}

Result<PolicyMode> ParsePolicyMode(const std::string& s) {
  for (PolicyMode m : {PolicyMode::kAdaptive, PolicyMode::kStatic, PolicyMode::kPeriodic})
    if (s == PolicyModeName(m)) return m;
  return InvalidArgument("policy.mode: \"" + s + "\" is not adaptive, static or periodic");
}

ModeGate GateFor(const PolicySettings& settings, bool segment_missing, TimePoint now, TimePoint last_plan) {
  if (settings.mode == PolicyMode::kAdaptive) return ModeGate::kPlan;
  if (settings.mode == PolicyMode::kPeriodic && now - last_plan >= settings.period) return ModeGate::kPlan;
  return segment_missing ? ModeGate::kReload : ModeGate::kHold;
}

const char* DecisionKindName(DecisionKind k) {
  switch (k) {
    case DecisionKind::kKeep: return "keep";
    case DecisionKind::kPlace: return "place";
    case DecisionKind::kMigrate: return "migrate";
    case DecisionKind::kResplit: return "resplit";
    case DecisionKind::kNone: return "none";
  }
  return "unknown";
}

Status PolicySettings::Validate() const {
  std::string e;
  if (!(horizon_s > 0)) e += "horizon_s must be > 0; ";
  if (!(min_request_rate >= 0)) e += "min_request_rate must be >= 0; ";
  if (!(hysteresis_fraction >= 0 && hysteresis_fraction < 1)) e += "hysteresis_fraction must be in [0, 1); ";
  if (!(min_gain_ms >= 0)) e += "min_gain_ms must be >= 0; ";
  if (cooldown < Duration::zero()) e += "cooldown_s must be >= 0; ";
  if (!(weight_fetch_mbps > 0)) e += "weight_fetch_mbps must be > 0; ";
  if (!(drift_fraction > 0)) e += "drift_fraction must be > 0; ";
  if (evaluate_interval <= Duration::zero()) e += "evaluate_interval_ms must be > 0; ";
  if (slo_window <= Duration::zero()) e += "slo_window_s must be > 0; ";
  if (!(resplit_margin_fraction >= 0 && resplit_margin_fraction < 10)) e += "resplit_margin_fraction must be in [0, 10); ";
  if (!(cooldown_waiver_factor == 0 || (cooldown_waiver_factor >= 1 && cooldown_waiver_factor <= 1000)))
    e += "cooldown_waiver_factor must be 0 or in [1, 1000]; ";
  if (period < std::chrono::seconds(1)) e += "period_s must be >= 1; ";
  if (!(max_utilization >= 0 && max_utilization < 1)) e += "max_utilization must be in [0, 1) (0 = no load term); ";
  if (!(noise_factor >= 0 && noise_factor <= 100)) e += "noise_factor must be in [0, 100] (0 = off); ";
  if (confirm_evaluations < 1 || confirm_evaluations > 100) e += "confirm_evaluations must be in [1, 100]; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

bool PreferSameCuts(const PolicySettings& s, double resplit_ms, double same_cuts_ms) {
  return same_cuts_ms - resplit_ms <= s.resplit_margin_fraction * same_cuts_ms;
}

bool SameCuts(const std::vector<planner::Stage>& a, const std::vector<planner::Stage>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first_layer != b[i].first_layer || a[i].end_layer != b[i].end_layer) return false;
  }
  return true;
}

double BytesToMove(const std::vector<planner::Stage>& from, const std::vector<planner::Stage>& to,
                   const std::vector<double>& param_bytes) {
  double bytes = 0;
  for (const auto& s : to) {
    for (int l = s.first_layer; l < s.end_layer && l < static_cast<int>(param_bytes.size()); ++l) {
      bool held = std::any_of(from.begin(), from.end(), [&](const planner::Stage& f) {
        return f.node == s.node && f.first_layer <= l && l < f.end_layer;
      });
      if (!held) bytes += param_bytes[l];
    }
  }
  return bytes;
}

namespace {
std::string Fmt(const char* fmt, double a, double b = 0, double c = 0) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), fmt, a, b, c);
  return buf;
}
}  // namespace

double CostNoiseMs(const std::vector<double>& recent) {
  if (recent.size() < kNoiseMinSamples) return 0;
  std::vector<double> d;
  for (size_t i = 1; i < recent.size(); ++i)
    if (std::isfinite(recent[i]) && std::isfinite(recent[i - 1])) d.push_back(std::abs(recent[i] - recent[i - 1]));
  if (d.size() + 1 < kNoiseMinSamples) return 0;
  std::nth_element(d.begin(), d.begin() + d.size() / 2, d.end());
  return 1.4826 * d[d.size() / 2] / std::sqrt(2.0);
}

double RebuildSessionsMs(double plan_latency_ms, double nominal_tokens, double history_tokens) {
  if (!(plan_latency_ms > 0) || !(nominal_tokens > 0) || !(history_tokens > 0) || !std::isfinite(plan_latency_ms)) return 0;
  return plan_latency_ms * history_tokens / nominal_tokens;
}

namespace {
// " (N ms of it: K live sessions ...)": what the live sessions add to the cost, and how they move.
std::string SessionsText(const Decision& d, const PolicyInput& in) {
  const bool other = in.session_other_ms > 0 && std::isfinite(in.session_other_ms);
  if (d.session_move == "copy")
    return Fmt(" (%.0f ms of it: %.0f live sessions' KV copied between agents, %.0f bytes", in.session_cost_ms,
               in.live_sessions, in.kv_bytes) +
           (other ? Fmt("; a rebuild: %.0f ms)", in.session_other_ms) : std::string(")"));
  return Fmt(" (%.0f ms of it: %.0f live sessions rebuilt by a prefill of their history", in.session_cost_ms,
             in.live_sessions) +
         (other ? Fmt("; a KV copy: %.0f ms)", in.session_other_ms) : std::string(")"));
}
}  // namespace

Decision Decide(const PolicySettings& s, const PolicyInput& in) {
  Decision d;
  d.trigger = in.trigger;
  d.current_ms = in.current_ms;
  d.candidate_ms = in.candidate_ms;
  d.live_sessions = in.live_sessions;
  d.session_cost_ms = in.session_cost_ms;
  d.session_move = in.live_sessions > 0 ? (in.session_move.empty() ? "rebuild" : in.session_move) : "";
  d.kv_bytes = d.session_move == "copy" ? in.kv_bytes : 0;
  const double cost_ms = in.migration_cost_ms + in.session_cost_ms;
  d.cost_ms = cost_ms;
  if (in.rollout_in_flight) {
    d.reason = "a reconfiguration is already in flight";
    return d;
  }
  if (!in.candidate_feasible) {
    if (in.has_current && in.current_valid) {
      d.reason = "no feasible alternative (" + in.candidate_reason + "); current plan still serves";
    } else {
      d.kind = DecisionKind::kNone;
      d.reason = "no feasible plan: " + in.candidate_reason;
    }
    return d;
  }
  d.stages = in.candidate;
  const DecisionKind move = SameCuts(in.current, in.candidate) ? DecisionKind::kMigrate : DecisionKind::kResplit;
  if (!in.has_current) {
    d.kind = DecisionKind::kPlace;
    d.reason = "initial placement";
    return d;
  }
  if (!in.current_valid) {
    d.kind = move;
    d.predicted_gain_ms = 0;
    d.reason = "current plan no longer works (" + in.current_invalid_reason + "); replacing it";
    if (in.passed_over_resplit_ms > 0)
      d.reason += Fmt(" with the same cuts (a re-split to %.2f ms is within the re-split margin)", in.passed_over_resplit_ms);
    return d;
  }
  d.predicted_gain_ms = in.current_ms - in.candidate_ms;
  const double requests = std::max(in.request_rate, s.min_request_rate) * s.horizon_s;
  d.horizon_gain_ms = d.predicted_gain_ms * requests;
  if (in.candidate == in.current) {
    d.predicted_gain_ms = 0;
    d.horizon_gain_ms = 0;
    d.stages.clear();
    d.reason = in.passed_over_resplit_ms > 0
                   ? Fmt("current plan is the best with its cuts (%.2f ms); a re-split to %.2f ms is within the "
                         "re-split margin", in.current_ms, in.passed_over_resplit_ms)
                   : "current plan is the best plan";
    return d;
  }
  const bool cooling = in.now - in.last_reconfiguration < s.cooldown;
  // Right after a reconfiguration the model's price of the new plan swings (its segments' first
  // measurements, two epochs' busy time overlapping): when requests are being answered, the
  // waiver needs their latency to agree.
  const bool measured_agrees =
      !(in.observed_recent_ms > 0) || in.observed_recent_ms > s.cooldown_waiver_factor * in.adopted_ms;
  const bool badly_wrong = s.cooldown_waiver_factor > 0 && in.adopted_ms > 0 &&
                           in.current_ms > s.cooldown_waiver_factor * in.adopted_ms && measured_agrees;
  if (cooling && !badly_wrong) {
    d.stages.clear();
    d.reason = Fmt("in cool-down (%.1f s left)", ToSeconds(s.cooldown - (in.now - in.last_reconfiguration)));
    if (s.cooldown_waiver_factor > 0 && in.adopted_ms > 0 && in.current_ms > s.cooldown_waiver_factor * in.adopted_ms)
      d.reason += Fmt("; the plan is priced at %.1fx its prediction but answers at p50 %.1f ms",
                      in.current_ms / in.adopted_ms, in.observed_recent_ms);
    return d;
  }
  const double threshold = std::max(s.min_gain_ms, s.hysteresis_fraction * in.current_ms);
  if (d.predicted_gain_ms < threshold) {
    d.stages.clear();
    d.reason = Fmt("gain %.2f ms/request below hysteresis threshold %.2f ms", d.predicted_gain_ms, threshold);
    return d;
  }
  if (const double noise = s.noise_factor * in.noise_ms; d.predicted_gain_ms < noise) {
    d.stages.clear();
    d.reason = Fmt("gain %.2f ms/request within the noise: below %.0f x the current plan's cost jitter of %.2f ms",
                   d.predicted_gain_ms, s.noise_factor, in.noise_ms);
    return d;
  }
  // The gain must hold against what the current plan is measured to answer in, not only
  // against its price: a plan that already answers faster than the candidate promises gains
  // nothing by moving, whatever the model says of it. The hysteresis here is relative to the
  // measurement (a saturated plan's price is far above what it answers in).
  if (const double measured_gain = in.observed_recent_ms - in.candidate_ms,
      measured_threshold = std::max(s.min_gain_ms, s.hysteresis_fraction * in.observed_recent_ms);
      in.observed_recent_ms > 0 && measured_gain < measured_threshold) {
    d.stages.clear();
    d.reason = Fmt("the current plan answers at p50 %.2f ms: the candidate's %.2f ms gains less than the hysteresis "
                   "threshold %.2f ms", in.observed_recent_ms, in.candidate_ms, measured_threshold);
    return d;
  }
  if (d.horizon_gain_ms <= cost_ms) {
    d.stages.clear();
    d.reason = Fmt("gain over horizon %.0f ms does not exceed migration cost %.0f ms", d.horizon_gain_ms, cost_ms);
    if (in.live_sessions > 0) d.reason += SessionsText(d, in);
    return d;
  }
  if (in.confirmations < s.confirm_evaluations) {
    d.stages.clear();
    d.reason = Fmt("better plan seen %.0f of %.0f evaluations in a row; waiting for confirmation", in.confirmations,
                   s.confirm_evaluations);
    return d;
  }
  d.kind = move;
  d.reason = Fmt("gain %.2f ms/request (%.0f ms over horizon) exceeds migration cost %.0f ms", d.predicted_gain_ms,
                 d.horizon_gain_ms, cost_ms);
  if (in.live_sessions > 0) d.reason += SessionsText(d, in);
  if (cooling)
    d.reason += Fmt("; cool-down waived: the current plan costs %.1fx its prediction (%.2f ms)",
                    in.current_ms / in.adopted_ms, in.adopted_ms);
  if (in.passed_over_resplit_ms > 0)
    d.reason += Fmt("; kept the cuts (a re-split to %.2f ms is within the re-split margin)", in.passed_over_resplit_ms);
  return d;
}

}  // namespace edgesplit::orch
