// The migration policy (DESIGN.md "Runtime decisions"): given the fresh cost of the current plan
// and the planner's best plan, decide keep, migrate (same cuts, other nodes) or re-split (new
// cuts). A new plan is adopted only when its per-request gain, accumulated over the horizon,
// exceeds the migration cost (weight bytes to move / fetch bandwidth), the gain clears the
// hysteresis, and the deployment is out of its cool-down. A current plan that no longer works
// (lost node, trust change) is replaced regardless. Pure function over plain structs.
#pragma once

#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

enum class Trigger { kInitial, kNodeLost, kNodeJoined, kSloBreach, kProfileDrift, kTrustChange, kManual, kPeriodic };
const char* TriggerName(Trigger t);

enum class DecisionKind { kKeep, kPlace, kMigrate, kResplit, kNone };
const char* DecisionKindName(DecisionKind k);  // keep | place | migrate | resplit | none

// What may re-plan a deployment once it is placed (docs/orchestrator.md "Policy modes"; the
// static and periodic modes are the baselines of the adaptation trace benchmark, scripts/trace.sh):
//  adaptive - every trigger and evaluation (edgesplit's policy);
//  static   - the initial plan, never changed (a classic static split): a lost node's stage
//             waits for the node, and when it is back without its segment the same plan is
//             loaded again;
//  periodic - re-planned every `period` whatever happened in between (rebalancing on a timer,
//             like Petals'); between two re-plans, as static.
enum class PolicyMode { kAdaptive, kStatic, kPeriodic };
const char* PolicyModeName(PolicyMode m);  // adaptive | static | periodic
Result<PolicyMode> ParsePolicyMode(const std::string& s);

struct PolicySettings {
  PolicyMode mode = PolicyMode::kAdaptive;
  Duration period = std::chrono::seconds(60);  // periodic mode: time between re-plans
  double horizon_s = 30;               // the gain accumulates over this much traffic time
  double min_request_rate = 1.0;       // requests/s assumed when traffic is lower (idle floor)
  double hysteresis_fraction = 0.15;   // a candidate must beat the current plan by this fraction
  double min_gain_ms = 0.5;            // ... and by at least this many ms per request
  Duration cooldown = std::chrono::seconds(5);  // after a reconfiguration, no voluntary one
  double weight_fetch_mbps = 1000;     // bandwidth agents load new weights at (migration cost)
  double drift_fraction = 0.10;        // fresh vs predicted cost change that counts as drift
  Duration evaluate_interval = std::chrono::milliseconds(250);
  Duration slo_window = std::chrono::seconds(5);
  int confirm_evaluations = 3;         // a voluntary change must win this many evaluations in a row
  // New cut points are proposed only when they beat the best plan with the current cuts by
  // this fraction; otherwise that same-cuts plan (a migration, or the current plan) is proposed.
  double resplit_margin_fraction = 0.10;
  // The cool-down keeps comparable plans from flapping; it does not protect a plan that now
  // costs this many times what was predicted when it was adopted (0: the cool-down always holds)
  // and, when requests were answered in the last second, whose observed p50 agrees (is also
  // this many times the prediction).
  double cooldown_waiver_factor = 2.0;
  // The load term of the latency objective (planner/load_model.h): plans are compared by their
  // response time at the measured pass rate (latency plus queueing), and no stage or hop of a
  // load-capped candidate may be busier than this (0: off, plans compared by idle latency).
  double max_utilization = 0.85;
  // A voluntary change must also gain more than this many times the current plan's cost
  // jitter (CostNoiseMs over its recent evaluations): on a busy box the fresh cost of the same
  // plan swings by 15-30 %, and plans that close are not worth a reconfiguration (0: off).
  double noise_factor = 3.0;
  Status Validate() const;
};

struct PolicyInput {
  Trigger trigger = Trigger::kPeriodic;
  bool has_current = false;          // a plan is deployed
  bool current_valid = false;        // every stage node alive and the plan feasible now
  std::string current_invalid_reason;
  double current_ms = 0;             // fresh objective value of the current plan
  std::vector<planner::Stage> current;
  bool candidate_feasible = false;
  std::string candidate_reason;      // planner's reason when infeasible
  double candidate_ms = 0;
  std::vector<planner::Stage> candidate;
  double weight_bytes = 0;           // weights the candidate loads on nodes not holding them
  double migration_cost_ms = 0;      // weight fetch time of moving to the candidate
  int live_sessions = 0;             // generation sessions streaming on the current plan
  double session_cost_ms = 0;        // their predicted stall, summed, if moved to the candidate
  std::string session_move;          // how they move: "copy" (KV between agents) or "rebuild"
  double kv_bytes = 0;               // KV bytes a copy sends over the network
  double session_other_ms = 0;       // the price of the way not chosen (infinity: impossible)
  double request_rate = 0;           // requests/s observed
  TimePoint now{};
  TimePoint last_reconfiguration{};  // epoch of the previous commit (or deployment time)
  bool rollout_in_flight = false;
  int confirmations = 1;             // consecutive evaluations that named this candidate
  double passed_over_resplit_ms = 0; // a re-split set aside for the same-cuts candidate (0: none)
  double adopted_ms = 0;             // predicted cost of the current plan when adopted (0: unknown)
  double noise_ms = 0;               // jitter of current_ms over recent evaluations (CostNoiseMs)
  double observed_recent_ms = 0;     // p50 of the requests answered in the last second (0: none seen)
};

struct Decision {
  DecisionKind kind = DecisionKind::kKeep;
  Trigger trigger = Trigger::kPeriodic;
  std::string reason;
  double predicted_gain_ms = 0;   // per request
  double horizon_gain_ms = 0;     // per-request gain x requests over the horizon
  double cost_ms = 0;              // weights plus live sessions
  double current_ms = 0;
  double candidate_ms = 0;
  int live_sessions = 0;           // moved with the plan (KV copied, or rebuilt by a prefill of their history)
  double session_cost_ms = 0;      // their predicted stall, summed (part of cost_ms)
  std::string session_move;        // "copy" | "rebuild" (empty without live sessions)
  double kv_bytes = 0;             // KV bytes the copy moves
  std::vector<planner::Stage> stages;  // the plan to adopt (place/migrate/resplit)
  double weight_bytes = 0;         // weights loaded on nodes that do not hold them yet
  bool adopt() const { return kind == DecisionKind::kPlace || kind == DecisionKind::kMigrate || kind == DecisionKind::kResplit; }
};

Decision Decide(const PolicySettings& settings, const PolicyInput& in);

// What an evaluation of a placed deployment may do under the policy mode.
enum class ModeGate {
  kPlan,    // evaluate and decide as usual
  kHold,    // keep the plan whatever it costs now (a lost node's stage waits for the node)
  kReload,  // load the same plan again (a stage node came back without its segment)
};
// `segment_missing`: every stage node is alive and one of them registered again after the
// plan was committed and does not hold its segment. `last_plan`: the previous re-plan of the
// periodic mode (the placement at first).
ModeGate GateFor(const PolicySettings& settings, bool segment_missing, TimePoint now, TimePoint last_plan);

// The jitter of one estimate of a plan's cost from its recent fresh costs (oldest first): a
// robust standard deviation from the median absolute difference of successive values
// (1.4826 x median |x[i] - x[i-1]| / sqrt 2), so one jump (a fault) does not count as noise.
// 0 with fewer than kNoiseMinSamples values.
constexpr size_t kNoiseMinSamples = 6;
double CostNoiseMs(const std::vector<double>& recent);

// The predicted stall, summed over live sessions, of moving them to a plan by rebuilding their
// KV: each session's history is prefilled through the whole new pipeline. A prefill of T tokens
// is priced as the plan's latency at the nominal (profiled) length scaled by T / nominal —
// linear in tokens, which holds while the projections dominate attention (contexts of a few
// thousand tokens at most for the models we serve).
double RebuildSessionsMs(double plan_latency_ms, double nominal_tokens, double history_tokens);

// Whether to propose the best plan keeping the current cuts (value `same_cuts_ms`) rather than
// the planner's best plan with other cuts (`resplit_ms`): moving cut points reloads weights on
// more nodes and reshapes every stage, so new cuts must win by resplit_margin_fraction.
bool PreferSameCuts(const PolicySettings& settings, double resplit_ms, double same_cuts_ms);

// Same cut points (layer ranges) in both plans.
bool SameCuts(const std::vector<planner::Stage>& a, const std::vector<planner::Stage>& b);

// Weight bytes `to` needs on nodes that do not already hold them under `from`.
double BytesToMove(const std::vector<planner::Stage>& from, const std::vector<planner::Stage>& to,
                   const std::vector<double>& param_bytes_per_layer);
inline double FetchMs(double bytes, double mbps) { return mbps > 0 ? bytes * 8.0 / (mbps * 1e6) * 1e3 : 0.0; }

}  // namespace edgesplit::orch
