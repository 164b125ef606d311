#include "agent/daemon/data_authz.h"

#include <algorithm>

namespace edgesplit::agent {

using security::Role;
using transport::FrameKind;

namespace {

Status Deny(const Sender& s, const transport::Frame& m, const std::string& why) {
  return PermissionDenied(std::string(transport::FrameKindName(m.kind)) + " from '" + s.name + "' (" +
                          security::RoleName(s.role) + "): " + why);
}

}  // namespace

Status AuthorizeFrame(const Sender& s, const transport::Frame& m, const LoadSpec* target) {
  if (!s.authenticated) return Status::Ok();
  const bool client_kind = m.kind == FrameKind::kRequest || m.kind == FrameKind::kGenerate ||
                           (m.kind == FrameKind::kSessionEnd && m.session_id == 0);
  if (client_kind) {
    if (s.role == Role::kClient || s.role == Role::kOrchestrator) return Status::Ok();
    return Deny(s, m, "client requests need a client (or orchestrator) certificate");
  }
  if (m.kind == FrameKind::kProbe) return Status::Ok();
  if (m.kind == FrameKind::kKvData) {
    if (s.role != Role::kAgent) return Deny(s, m, "only agents send pipeline frames");
    if (!target) return Status::Ok();  // no such segment here: dropped as late
    if (target->carry_from.empty() || m.carry_epoch != target->carry_from_epoch)
      return Deny(s, m, "epoch " + std::to_string(target->epoch) + " takes KV only from epoch " +
                            std::to_string(target->carry_from_epoch));
    const std::string holder = target->CarrySourceOf(m.layer);
    if (s.name != holder)
      return Deny(s, m, "layer " + std::to_string(m.layer) + "'s KV comes only from its old holder '" + holder + "'");
    return Status::Ok();
  }
  const bool stage_kind = m.kind == FrameKind::kActivation || m.kind == FrameKind::kStep ||
                          m.kind == FrameKind::kSessionEnd || m.kind == FrameKind::kKvPush;
  const bool entry_kind = m.kind == FrameKind::kResult || m.kind == FrameKind::kToken || m.kind == FrameKind::kError ||
                          m.kind == FrameKind::kKvReady;
  if (!stage_kind && !entry_kind) return Deny(s, m, "not accepted on the data port");
  if (s.role != Role::kAgent) return Deny(s, m, "only agents send pipeline frames");
  if (!target) return Status::Ok();  // no such segment here: dropped as late by the caller
  if (target->stage_nodes.empty()) return Deny(s, m, "the segment has no stage list to check the sender against");
  if (stage_kind) {
    if (s.name != target->upstream_node())
      return Deny(s, m, "stage " + std::to_string(target->stage_index) + " of epoch " + std::to_string(target->epoch) +
                            " accepts it only from '" + target->upstream_node() + "'");
    return Status::Ok();
  }
  if (!target->is_entry) return Deny(s, m, "this node is not the epoch's entry");
  if (m.kind == FrameKind::kError || m.kind == FrameKind::kKvReady) {
    const auto& n = target->stage_nodes;
    if (std::find(n.begin() + 1, n.end(), s.name) == n.end())
      return Deny(s, m, "not a stage of epoch " + std::to_string(target->epoch));
    if (m.kind == FrameKind::kKvReady && m.stage != s.name)
      return Deny(s, m, "a stage reports only its own KV ('" + m.stage + "' is not its name)");
    return Status::Ok();
  }
  if (s.name != target->last_node())
    return Deny(s, m, "answers of epoch " + std::to_string(target->epoch) + " come only from its last stage '" +
                          target->last_node() + "'");
  return Status::Ok();
}

}  // namespace edgesplit::agent
