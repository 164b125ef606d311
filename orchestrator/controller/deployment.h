// A deployment as the controller keeps it: the operator's spec (validated), its status, the
// committed plan and epoch, the rollout in flight and the per-deployment state of the
// re-planning logic (observed latencies, pending candidate). Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "orchestrator/planner/instance.h"
#include "orchestrator/policy/migration_policy.h"
#include "orchestrator/rollout/rollout.h"

namespace edgesplit::orch {

struct DeploymentSpec {
  std::string name;
  std::string model;
  // The planner's source; empty: chosen at creation (the fastest operator-trusted node). It must
  // be trusted by the operator; when its trust is revoked the entry moves to the fastest trusted
  // node and this field follows at the commit of that epoch.
  std::string entry_node;
  planner::Objective objective;
  double slo_latency_ms = 0;  // 0: no SLO
  int trusted_prefix_layers = 0;
  int max_stages = 0;  // 0: no limit
  // KV reservation (models with a generation section): every stage must hold the KV state of
  // kv_sessions sessions of kv_context_tokens tokens each for its layers. 0 sessions: none.
  int kv_sessions = 0;
  int64_t kv_context_tokens = 0;  // 0: the model's generation.max_context (set at creation)
  Status Validate() const;  // model-independent checks; the model's limits: BuildPlanningInstance
};

enum class DeploymentStatus { kDeploying, kServing, kReconfiguring, kDegraded, kAdopting };
const char* DeploymentStatusName(DeploymentStatus s);

struct Deployment {
  DeploymentSpec spec;
  DeploymentStatus status = DeploymentStatus::kDeploying;
  std::string status_reason;
  uint64_t epoch = 0;  // committed epoch; 0 before the first commit
  std::vector<StageTarget> stages;
  uint64_t max_epoch = 0;  // highest epoch ever handed out (never reused)
  double predicted_latency_ms = 0;
  double predicted_period_ms = 0;
  double baseline_ms = 0;  // cost the drift trigger compares against
  double adopted_ms = 0;   // the committed plan's predicted cost at adoption (cool-down waiver)
  double pass_rate = 0;    // measured passes/s, smoothed (load_estimate.h); 0: none measured
  // The current plan's fresh cost at its last evaluations (policy noise gate), this epoch only.
  std::deque<double> recent_cost_ms;
  TimePoint pass_rate_at{};
  TimePoint created_at{};
  TimePoint last_reconfiguration{};
  TimePoint last_eval{};
  TimePoint adopt_deadline{};
  std::unique_ptr<Rollout> rollout;
  Decision rollout_decision;       // why the in-flight rollout started
  TimePoint fault_at{};            // when the trigger of the in-flight rollout was observed
  std::deque<std::pair<TimePoint, double>> observed_ms;
  uint64_t requests_total = 0;
  uint64_t reconfigurations = 0;     // epochs committed after the placement
  double weight_bytes_moved = 0;     // by those reconfigurations
  TimePoint last_mode_plan{};        // periodic mode: the last re-plan (the placement at first)
  uint64_t failures_total = 0;
  std::set<std::string> nodes_seen;  // alive nodes at the last evaluation (join detection)
  TimePoint last_slo_event{};
  TimePoint last_keep_event{};
  std::vector<planner::Stage> pending_candidate;  // best plan of the last evaluations
  int confirmations = 0;                          // consecutive evaluations naming it
  Trigger pending_trigger = Trigger::kPeriodic;   // what started that sequence
  std::string last_keep_trigger;

  double ObservedP50(TimePoint now, Duration window) const;
};

// The route a client request takes: the entry's data port and the epoch it serves.
struct Route {
  std::string entry_node;
  std::string entry_address;  // empty: none now (requests wait for one within their deadline)
  uint64_t epoch = 0;
  std::string unavailable_reason;  // why there is no entry address
};

}  // namespace edgesplit::orch
