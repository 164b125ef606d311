// Domain view of an agent: what it registered with and what its heartbeats report.
// Plain structs (no protobuf); the daemon converts wire messages into these in one place.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "orchestrator/cluster/trust_list.h"

namespace edgesplit::orch {

struct LinkReport {
  std::string peer;
  std::string peer_address;
  double rtt_ms = 0;
  double bandwidth_mbps = 0;
  std::string error;  // non-empty: the probe failed
  std::string source;  // "probe" or "traffic" (measured from the frames the node sent the peer)
  int64_t measured_unix_ms = 0;
};

struct SegmentReport {
  std::string deployment;
  uint64_t epoch = 0;
  std::string model;
  int first_layer = 0;
  int end_layer = 0;
  std::vector<double> layer_ms;  // measured median per layer of [first_layer, end_layer)
  uint32_t queue_depth = 0;
  double request_rate = 0;
  std::string state;  // loading | ready | draining | unloaded | failed
  std::string downstream_address;
  bool active = false;
  uint64_t requests_total = 0;
  uint64_t failures_total = 0;
  uint32_t live_sessions = 0;   // entry: generation sessions streaming on this epoch
  uint64_t session_tokens = 0;  // entry: their history tokens, summed
  double busy_fraction = 0;     // compute-pool seconds on this segment per second (utilisation)
  uint32_t answered = 0;        // entry: requests answered since the previous report, plus those waiting
  double answered_p50_ms = 0;   // entry: their median latency (client request to answer, or to now)
};

struct CapacityReport {
  uint64_t version = 0;
  uint32_t cores = 0;
  double cpu_utilization = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;
  std::vector<SegmentReport> segments;
  std::vector<LinkReport> links;
  double compute_slowdown = 1;
  double egress_mbps = 0;
  double speed_factor = 0;  // 0 = not measured
  uint32_t active_sessions = 0;  // generation sessions holding KV state on the node
  uint64_t kv_bytes = 0;         // KV bytes they reserve
  uint64_t kv_budget_bytes = 0;  // the node's KV budget
};

struct RegisterInfo {
  std::string node;
  std::string version;
  CapacityReport capacity;
  std::string data_address;
  bool trusted = false;  // the agent's own claim: shown, never trusted (trust_list.h)
  std::vector<std::string> models;
  uint64_t incarnation = 0;
};

enum class NodeState { kAlive, kSuspect, kDead };
const char* NodeStateName(NodeState s);  // "alive" | "suspect" | "dead"

struct NodeRecord {
  std::string name;
  std::string data_address;
  std::string agent_version;
  // The operator's decision (TrustList), kept in sync by the registry; never the agent's claim.
  bool trusted = false;
  TrustSource trust_source = TrustSource::kNone;
  bool claims_trusted = false;  // what the agent said at registration (display only)
  uint64_t incarnation = 0;
  std::vector<std::string> models;
  CapacityReport profile;
  NodeState state = NodeState::kAlive;
  bool connected = false;
  TimePoint registered_at{};
  TimePoint last_seen{};
  TimePoint disconnected_at{};
  uint64_t heartbeats_total = 0;
  uint64_t last_seq = 0;
  // Evidence that the node's own uplink limits every link out of it (uplink_model.h).
  double uplink_cap_mbps = 0;  // 0: none
  int64_t uplink_cap_since_unix_ms = 0;

  // Relative compute speed used when no per-layer measurement exists (1 = reference box).
  double EffectiveSpeed() const;
  // Link measurement towards `peer`, or nullptr.
  const LinkReport* LinkTo(const std::string& peer) const;
};

}  // namespace edgesplit::orch
