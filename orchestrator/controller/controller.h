// Controller: the orchestrator's pure core. It ties the node registry, the model catalog, the
// planner, the migration policy and the rollouts of every deployment together:
//  - inputs: agent register/heartbeat/disconnect/ack events, API calls, observed request
//    latencies, and Tick(now) for everything time-driven;
//  - outputs: AgentCommands to send (TakeOutbox), events, and the state the API reads.
// No sockets, threads, clock reads or protobuf: the daemon's adapters feed it from its single
// control io thread. Thread-compatible.
// Its member functions are defined by concept: controller.cc (outbox, events, the API),
// agent_channel.cc (agent events, fencing, probes, Tick), replan.cc (evaluation and decision),
// rollout_driver.cc (starting and following rollouts); instance_builder.h builds the planner's
// instance and deployment.h holds the per-deployment state.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "orchestrator/cluster/model_catalog.h"
#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/controller/deployment.h"
#include "orchestrator/controller/instance_builder.h"
#include "orchestrator/planner/planner.h"
#include "orchestrator/policy/events.h"
#include "orchestrator/policy/migration_policy.h"
#include "orchestrator/rollout/rollout.h"

namespace edgesplit::orch {

struct AckInfo {
  uint64_t command_id = 0;
  bool ok = false;
  std::string error_code;
  std::string error;
  std::vector<LinkReport> links;
};

struct ControllerOptions {
  NodeRegistryOptions registry;
  RolloutOptions rollout;
  PolicySettings policy;
  planner::LinkSpec default_link{1000.0, 0.2};  // assumed for pairs never measured
  double planner_time_limit_ms = 200;
  // Clock the planner's time limit is measured on (the daemon: the steady clock). Null: the
  // planner bounds its work by iteration budgets only (deterministic; unit tests).
  const Clock* planner_clock = nullptr;
  Duration adopt_grace = std::chrono::seconds(5);  // after a restart: wait for agents to report
  Duration probe_interval = std::chrono::seconds(0);  // 0: no link probes
  uint32_t probe_bytes = 256 << 10;
  Duration fence_retry = std::chrono::seconds(5);
  size_t max_deployments = 64;
  Status Validate() const;
};

// Bandwidth assumed for a link whose probe failed (timed out or was reset).
inline constexpr double kFailedProbeMbps = 1.0;

struct ReconfigurationCount {
  std::string kind;    // place | migrate | resplit
  std::string reason;  // trigger name
  uint64_t count = 0;
};

class Controller {
 public:
  Controller(ControllerOptions options, ModelCatalog catalog);

  // --- agent channel ---
  Result<RegisterKind> OnRegister(const RegisterInfo& info, TimePoint now);
  Status OnHeartbeat(const std::string& node, uint64_t seq, const CapacityReport& profile, TimePoint now);
  void OnDisconnect(const std::string& node, TimePoint now);
  void OnAck(const std::string& node, const AckInfo& ack, TimePoint now);
  void Tick(TimePoint now);
  std::vector<AgentCommand> TakeOutbox();

  // --- API ---
  Result<const Deployment*> CreateDeployment(DeploymentSpec spec, TimePoint now);
  Status DeleteDeployment(const std::string& name, TimePoint now);
  // Runs the planner on current profiles without applying anything.
  Result<planner::PlanResult> PreviewPlan(const DeploymentSpec& spec) const;
  // Re-evaluates a deployment now (trigger "manual"), ignoring the evaluation interval.
  Status Reevaluate(const std::string& name, TimePoint now);
  Status SetPolicy(const PolicySettings& settings);
  // The operator's trust decision (persisted; the node need not be registered). A revocation
  // re-plans at once every deployment whose entry or privacy-restricted layers are on the node
  // (cool-down waived), and RouteFor holds their requests until the new epoch commits.
  // Errors: invalid_argument (bad name), resource_exhausted (too many decisions).
  Status SetTrusted(const std::string& node, bool trusted, TimePoint now);
  // Installs persisted trust decisions (at start, before agents register).
  Status RestoreTrust(const std::map<std::string, bool>& decisions) { return registry_.RestoreTrust(decisions); }
  // Unavailable before the first commit, and while the committed epoch puts the entry or a
  // privacy-restricted layer on a node the operator does not trust (after a revocation).
  Result<Route> RouteFor(const std::string& deployment) const;
  void ObserveRequest(const std::string& deployment, double latency_ms, bool ok, TimePoint now);

  // --- restart ---
  // Installs deployments read from disk; they are re-adopted from agent reports.
  void Restore(std::vector<Deployment> deployments, TimePoint now);
  // True once something persistent (deployments, epochs, policy) changed; clears the flag.
  bool TakeDirty();

  const NodeRegistry& registry() const { return registry_; }
  const ModelCatalog& catalog() const { return catalog_; }
  const std::map<std::string, Deployment>& deployments() const { return deployments_; }
  const EventLog& events() const { return events_; }
  const PolicySettings& policy() const { return options_.policy; }
  const std::vector<ReconfigurationCount>& reconfigurations() const { return reconfig_counts_; }
  // Adaptation time (trigger observed to new epoch committed) of the last committed rollouts.
  const std::deque<double>& adaptation_ms() const { return adaptation_ms_; }
  // Builds the planner's instance for `spec` over the alive nodes (exposed for tests).
  Result<planner::PlanningInstance> BuildInstance(const DeploymentSpec& spec) const {
    return BuildPlanningInstance(spec, catalog_, registry_, links_, options_.default_link, RememberedScales());
  }

 private:
  void Evaluate(Deployment& d, Trigger hint, TimePoint now);
  void StartRollout(Deployment& d, const Decision& decision, TimePoint now);
  // Policy modes (replan.cc): keep a plan that a lost node broke; load the same plan again.
  void HoldPlan(Deployment& d, const PolicyInput& in, TimePoint now);
  void ReloadPlan(Deployment& d, const std::vector<std::string>& nodes, const Manifest& m, TimePoint now);
  void AfterRollout(Deployment& d, TimePoint now);
  void HandleTransitions(const std::vector<NodeTransition>& ts, TimePoint now);
  void Fence(const NodeRecord& node, TimePoint now);
  void MaybeProbe(TimePoint now);
  void Emit(Event e, TimePoint now);
  void EmitDecision(const Deployment& d, const Decision& dec, TimePoint now);
  void CountReconfiguration(const std::string& kind, const std::string& reason);
  // Planner options for one call starting now (time limit, and the clock when configured).
  planner::PlannerOptions PlannerOptionsNow() const;
  std::vector<StageTarget> Targets(const std::vector<planner::Stage>& stages) const;
  static std::vector<planner::Stage> Plain(const std::vector<StageTarget>& t);
  void Push(std::vector<AgentCommand> cmds);

  ControllerOptions options_;
  ModelCatalog catalog_;
  NodeRegistry registry_;
  std::map<std::string, Deployment> deployments_;
  EventLog events_;
  CommandIds ids_;
  std::vector<AgentCommand> outbox_;
  LinkTable links_;
  // What each node's layers measured on its last trusted segments (agent_channel.cc): a new
  // epoch's segments are not trusted for their first requests, and a busy node's compute probe
  // cannot run, so without this a node slowed under load would look as fast as before right
  // after every reconfiguration. Dropped after kScaleMemoryAge, when the node's probe figure
  // moves by more than 1.5x (it measured something newer), or when the node restarts.
  struct RememberedScale {
    double scale = 0;
    double speed_factor = 0;
    TimePoint at{};
  };
  static constexpr Duration kScaleMemoryAge = std::chrono::seconds(30);
  std::map<std::string, std::map<std::string, RememberedScale>> scale_memory_;
  void RememberScales(const NodeRecord& n, TimePoint now);
  void ForgetStaleScales(TimePoint now);
  ScaleMemory RememberedScales() const;
  std::map<std::string, TimePoint> fenced_;  // node/deployment/epoch -> last unload sent
  std::vector<ReconfigurationCount> reconfig_counts_;
  std::deque<double> adaptation_ms_;
  TimePoint started_at_{};
  TimePoint last_probe_{};
  bool started_ = false;
  bool dirty_ = false;
  bool in_trust_replan_ = false;  // AfterRollout's re-plan after a revocation (no recursion)
};

}  // namespace edgesplit::orch
