#include "orchestrator/cluster/node_registry.h"

#include <algorithm>

#include "orchestrator/cluster/uplink_model.h"

namespace edgesplit::orch {

const char* NodeStateName(NodeState s) {
  switch (s) {
    case NodeState::kAlive: return "alive";
    case NodeState::kSuspect: return "suspect";
    case NodeState::kDead: return "dead";
  }
  return "unknown";
}

const char* RegisterKindName(RegisterKind k) {
  switch (k) {
    case RegisterKind::kNew: return "new";
    case RegisterKind::kReconnected: return "reconnected";
    case RegisterKind::kRestarted: return "restarted";
    case RegisterKind::kRejoined: return "rejoined";
  }
  return "unknown";
}

double NodeRecord::EffectiveSpeed() const {
  // Measured by the agent (its compute probe); the emulation settings in the profile are never
  // read here: a fault is what measurement shows, not what a test knob says.
  return profile.speed_factor > 0 ? profile.speed_factor : 1.0;
}

const LinkReport* NodeRecord::LinkTo(const std::string& peer) const {
  for (const auto& l : profile.links) {
    if (l.peer == peer && l.error.empty()) return &l;
  }
  return nullptr;
}

Status NodeRegistryOptions::Validate() const {
  std::string errs;
  if (suspect_after <= Duration::zero()) errs += "suspect_after must be positive; ";
  if (dead_after <= suspect_after) errs += "dead_after must exceed suspect_after; ";
  if (disconnect_grace < Duration::zero()) errs += "disconnect_grace must not be negative; ";
  if (max_nodes == 0) errs += "max_nodes must be positive; ";
  if (Status s = ValidateTrustedNodes(trusted_nodes); !s.ok()) errs += s.message() + "; ";
  if (!errs.empty()) return InvalidArgument(errs.substr(0, errs.size() - 2));
  return Status::Ok();
}

void NodeRegistry::Move(NodeRecord& n, NodeState to, const std::string& reason, std::vector<NodeTransition>* out) {
  if (n.state == to) return;
  if (out) out->push_back({n.name, n.state, to, reason});
  n.state = to;
}

Result<RegisterKind> NodeRegistry::Register(const RegisterInfo& info, TimePoint now,
                                            std::vector<NodeTransition>* transitions) {
  if (info.node.empty()) return InvalidArgument("register: node name is empty");
  if (info.data_address.empty()) return InvalidArgument("register: data_address is empty");
  auto it = nodes_.find(info.node);
  RegisterKind kind = RegisterKind::kNew;
  if (it == nodes_.end()) {
    if (nodes_.size() >= options_.max_nodes) return ResourceExhausted("register: node limit reached");
    NodeRecord rec;
    rec.name = info.node;
    rec.state = NodeState::kAlive;
    rec.registered_at = now;
    it = nodes_.emplace(info.node, std::move(rec)).first;
    if (transitions) transitions->push_back({info.node, NodeState::kDead, NodeState::kAlive, "registered"});
  } else {
    NodeRecord& n = it->second;
    if (n.state == NodeState::kDead) {
      kind = RegisterKind::kRejoined;
    } else if (n.incarnation != info.incarnation) {
      kind = RegisterKind::kRestarted;
    } else {
      kind = RegisterKind::kReconnected;
    }
    Move(n, NodeState::kAlive, RegisterKindName(kind), transitions);
    n.registered_at = now;
  }
  NodeRecord& n = it->second;
  n.data_address = info.data_address;
  n.agent_version = info.version;
  // The claim is recorded for display; trust stays the operator's (a re-registration, whatever
  // it says, cannot change it).
  n.claims_trusted = info.trusted;
  ApplyTrust(n);
  n.incarnation = info.incarnation;
  n.models = info.models;
  n.profile = info.capacity;
  n.uplink_cap_mbps = 0;  // a new incarnation's measurements start afresh
  n.uplink_cap_since_unix_ms = 0;
  n.connected = true;
  n.last_seen = now;
  n.last_seq = 0;
  return kind;
}

Status NodeRegistry::Heartbeat(const std::string& node, uint64_t seq, const CapacityReport& profile, TimePoint now,
                               std::vector<NodeTransition>* transitions) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return NotFound("heartbeat from unregistered node " + node);
  NodeRecord& n = it->second;
  if (n.state == NodeState::kDead) return FailedPrecondition("node " + node + " is dead: register again");
  // Profiles are versioned: an older one (reordered or replayed) never replaces a newer one.
  if (profile.version >= n.profile.version || profile.version == 0) {
    const UplinkCap cap = UpdateUplinkCap({n.uplink_cap_mbps, n.uplink_cap_since_unix_ms}, n.profile.links, profile.links);
    n.uplink_cap_mbps = cap.mbps;
    n.uplink_cap_since_unix_ms = cap.since_unix_ms;
    n.profile = profile;
  }
  n.last_seen = now;
  n.last_seq = seq;
  n.connected = true;
  ++n.heartbeats_total;
  Move(n, NodeState::kAlive, "heartbeat", transitions);
  return Status::Ok();
}

void NodeRegistry::Disconnected(const std::string& node, TimePoint now, std::vector<NodeTransition>* transitions) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  NodeRecord& n = it->second;
  n.connected = false;
  n.disconnected_at = now;
  if (n.state == NodeState::kAlive) Move(n, NodeState::kSuspect, "disconnected", transitions);
}

std::vector<NodeTransition> NodeRegistry::Tick(TimePoint now) {
  std::vector<NodeTransition> out;
  for (auto& [name, n] : nodes_) {
    if (n.state == NodeState::kDead) continue;
    const Duration silent = now - n.last_seen;
    if (!n.connected && now - n.disconnected_at >= options_.disconnect_grace) {
      Move(n, NodeState::kDead, "disconnected", &out);
    } else if (silent >= options_.dead_after) {
      Move(n, NodeState::kDead, "missed_heartbeats", &out);
    } else if (silent >= options_.suspect_after && n.state == NodeState::kAlive) {
      Move(n, NodeState::kSuspect, "missed_heartbeats", &out);
    }
  }
  return out;
}

void NodeRegistry::ApplyTrust(NodeRecord& n) const {
  n.trusted = trust_.IsTrusted(n.name);
  n.trust_source = trust_.SourceOf(n.name);
}

Status NodeRegistry::SetTrusted(const std::string& node, bool trusted) {
  ES_RETURN_IF_ERROR(trust_.Set(node, trusted));
  if (auto it = nodes_.find(node); it != nodes_.end()) ApplyTrust(it->second);
  return Status::Ok();
}

Status NodeRegistry::RestoreTrust(const std::map<std::string, bool>& decisions) {
  ES_RETURN_IF_ERROR(trust_.Restore(decisions));
  for (auto& [name, n] : nodes_) ApplyTrust(n);
  return Status::Ok();
}

Status NodeRegistry::Remove(const std::string& node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return NotFound("unknown node " + node);
  if (it->second.state != NodeState::kDead) return FailedPrecondition("node " + node + " is not dead");
  nodes_.erase(it);
  return Status::Ok();
}

const NodeRecord* NodeRegistry::Find(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? nullptr : &it->second;
}

std::vector<std::string> NodeRegistry::AliveNodes() const {
  std::vector<std::string> out;
  for (const auto& [name, n] : nodes_) {
    if (n.state == NodeState::kAlive) out.push_back(name);
  }
  return out;
}

size_t NodeRegistry::CountIn(NodeState s) const {
  return static_cast<size_t>(std::count_if(nodes_.begin(), nodes_.end(), [s](const auto& kv) { return kv.second.state == s; }));
}

}  // namespace edgesplit::orch
