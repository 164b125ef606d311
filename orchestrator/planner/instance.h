// The planning problem as plain data: a model's per-layer costs, the nodes, the links between
// them, the constraints and the objective (DESIGN.md, "Planning problem"). Value types, no I/O;
// thread-compatible. Units are in the field names (ms, bytes, Mbps).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace edgesplit::planner {

struct LayerCost {
  std::string name;
  double compute_ms = 0;     // reference time; a node's time is compute_ms / speed unless overridden
  double param_bytes = 0;    // weights the node holding this layer must store
  double output_bytes = 0;   // activation bytes this layer emits
  // KV/state bytes the layer keeps per context token of one session (0: stateless layer).
  double state_bytes_per_token = 0;
};

struct ModelCosts {
  std::string name;
  double input_bytes = 0;  // bytes the source sends to the first stage
  std::vector<LayerCost> layers;  // in execution order
  // Context tokens summed over the sessions a stage must reserve KV state for (context tokens
  // x sessions); a stage [i,j) reserves kv_reserve_tokens * sum of state_bytes_per_token.
  double kv_reserve_tokens = 0;
};

struct NodeSpec {
  std::string name;
  double speed = 1.0;
  double memory_bytes = 0;
  bool trusted = false;
  // Optional measured per-layer times on this node (one per layer); overrides compute_ms/speed.
  std::vector<double> compute_ms;
  // Optional capacity of the node's own uplink / downlink, shared by every link out of / into
  // it (0: not limited beyond its links). A transfer u->v gets min(uplink(u), downlink(v),
  // link(u,v)): a congested uplink slows every peer it sends to, not one pair.
  double uplink_mbps = 0;
  double downlink_mbps = 0;
};

struct LinkSpec {
  double bandwidth_mbps = 0;
  double latency_ms = 0;
};

struct LinkPair {
  std::string from;
  std::string to;
  LinkSpec link;
  bool symmetric = true;  // also defines to->from unless false
};

struct Links {
  std::optional<LinkSpec> default_link;  // without it only listed pairs exist
  std::vector<LinkPair> pairs;           // a pair overrides the default
};

struct Constraints {
  int trusted_prefix_layers = 0;      // layers [0, p) run on trusted nodes only
  int max_stages = 0;                 // 0: no limit beyond the number of nodes
  std::map<int, std::string> pinned;  // layer index -> node that must hold it
  // Throughput floor: no stage's compute and no hop's bandwidth term may exceed this (0: no
  // cap). The orchestrator sets it from the measured load (utilisation target / arrival rate),
  // so a latency-optimal plan never puts more work on one resource than it can keep up with.
  double max_period_ms = 0;
};

enum class ObjectiveKind { kLatency, kPeriod, kMixed };

const char* ObjectiveKindName(ObjectiveKind k);  // "latency" | "period" | "mixed"
Result<ObjectiveKind> ParseObjectiveKind(const std::string& s);

struct Objective {
  ObjectiveKind kind = ObjectiveKind::kLatency;
  double alpha = 1.0;  // mixed only: weight of latency
  double beta = 1.0;   // mixed only: weight of period
};

// One stage of a plan: a node and the contiguous layer range [first_layer, end_layer).
struct Stage {
  std::string node;
  int first_layer = 0;
  int end_layer = 0;
  bool operator==(const Stage&) const = default;
};

// The plan currently deployed (re-planning). Its nodes already hold its stages' weights.
struct CurrentPlan {
  std::vector<Stage> stages;
};

// Re-planning cost: weight bytes a node does not already hold are fetched at
// weight_fetch_mbps; that fetch time is amortised over horizon_requests requests and added to
// the objective value of a candidate plan.
struct MigrationOptions {
  double weight_fetch_mbps = 100.0;
  double horizon_requests = 1000.0;
};

struct PlanningInstance {
  ModelCosts model;
  std::vector<NodeSpec> nodes;
  Links links;
  std::string source;  // a node name: holds the raw input, receives the result
  Constraints constraints;
  Objective objective;
  std::optional<CurrentPlan> current_plan;
  std::optional<MigrationOptions> migration;
};

// Reports every structural problem at once (unknown node in a link, negative bandwidth, no
// layers, duplicate node names, bad pins, ...), each naming its key, separated by "; ".
// Infeasibility (e.g. nothing fits in memory) is not a validation error: Plan() reports it.
Status ValidateInstance(const PlanningInstance& instance);

}  // namespace edgesplit::planner
