// NodeRegistry: the set of known agents and their liveness, fed by register, heartbeat and
// disconnect events and by Tick(now). Pure: time is passed in, no I/O.
// Liveness: a node is suspect after `suspect_after` without a heartbeat (or at once when its
// control connection drops) and dead after `dead_after` without one (or `disconnect_grace`
// after a drop without reconnecting). A dead node must register again (rejoin).
// Thread-compatible: the daemon calls it from its control io thread only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "orchestrator/cluster/node.h"

namespace edgesplit::orch {

struct NodeRegistryOptions {
  Duration suspect_after = std::chrono::milliseconds(750);
  Duration dead_after = std::chrono::milliseconds(1500);
  Duration disconnect_grace = std::chrono::milliseconds(300);
  size_t max_nodes = 100000;
  // The operator's trusted nodes (config `trusted_nodes`); API decisions override them.
  std::vector<std::string> trusted_nodes;
  Status Validate() const;
};

struct NodeTransition {
  std::string node;
  NodeState from = NodeState::kAlive;
  NodeState to = NodeState::kAlive;
  std::string reason;  // "registered" | "rejoined" | "restarted" | "heartbeat" | "missed_heartbeats" | "disconnected"
};

enum class RegisterKind { kNew, kReconnected, kRestarted, kRejoined };
const char* RegisterKindName(RegisterKind k);

class NodeRegistry {
 public:
  explicit NodeRegistry(NodeRegistryOptions options = {})
      : options_(options), trust_(options_.trusted_nodes, options_.max_nodes) {}

  // Adds or refreshes a node. Errors: invalid_argument (empty name or address),
  // resource_exhausted (max_nodes).
  Result<RegisterKind> Register(const RegisterInfo& info, TimePoint now, std::vector<NodeTransition>* transitions);
  // Errors: not_found (never registered), failed_precondition (dead: register again).
  Status Heartbeat(const std::string& node, uint64_t seq, const CapacityReport& profile, TimePoint now,
                   std::vector<NodeTransition>* transitions);
  void Disconnected(const std::string& node, TimePoint now, std::vector<NodeTransition>* transitions);
  // Applies timeouts; returns the transitions that happened.
  std::vector<NodeTransition> Tick(TimePoint now);
  // The operator's trust decision for `node`, registered or not (a pre-approval); it outlives
  // re-registrations. Errors: invalid_argument, resource_exhausted (TrustList::Set).
  Status SetTrusted(const std::string& node, bool trusted);
  // Installs persisted trust decisions (at start, before agents register).
  Status RestoreTrust(const std::map<std::string, bool>& decisions);
  bool IsTrusted(const std::string& node) const { return trust_.IsTrusted(node); }
  const TrustList& trust() const { return trust_; }
  // Forgets a dead node. Errors: not_found, failed_precondition (not dead).
  Status Remove(const std::string& node);

  const NodeRecord* Find(const std::string& node) const;
  const std::map<std::string, NodeRecord>& nodes() const { return nodes_; }
  // Names of nodes usable for placement (alive; suspect nodes are not given new work).
  std::vector<std::string> AliveNodes() const;
  size_t CountIn(NodeState s) const;
  const NodeRegistryOptions& options() const { return options_; }

 private:
  void Move(NodeRecord& n, NodeState to, const std::string& reason, std::vector<NodeTransition>* out);
  void ApplyTrust(NodeRecord& n) const;
  NodeRegistryOptions options_;
  TrustList trust_;
  std::map<std::string, NodeRecord> nodes_;
};

}  // namespace edgesplit::orch
