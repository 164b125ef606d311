#include "orchestrator/cluster/trust_list.h"

#include "common/base/utf8.h"

namespace edgesplit::orch {

const char* TrustSourceName(TrustSource s) {
  switch (s) {
    case TrustSource::kNone: return "none";
    case TrustSource::kConfig: return "config";
    case TrustSource::kApi: return "api";
  }
  return "unknown";
}

namespace {
Status CheckName(const std::string& node, const std::string& where) {
  if (node.empty()) return InvalidArgument(where + ": node name is empty");
  if (node.size() > kMaxTrustNameBytes)
    return InvalidArgument(where + ": node name longer than " + std::to_string(kMaxTrustNameBytes) + " bytes");
  // A decision is persisted in the state file and echoed in JSON; a registered name is UTF-8
  // already (protobuf strings), so a name that is not can only be a bad URL (found by fuzz_rest).
  if (!IsUtf8(node)) return InvalidArgument(where + ": node name is not UTF-8");
  return Status::Ok();
}
}  // namespace

TrustList::TrustList(const std::vector<std::string>& configured, size_t max_decisions)
    : configured_(configured.begin(), configured.end()), max_decisions_(max_decisions) {}

bool TrustList::IsTrusted(const std::string& node) const {
  auto it = decisions_.find(node);
  if (it != decisions_.end()) return it->second;
  return configured_.count(node) > 0;
}

TrustSource TrustList::SourceOf(const std::string& node) const {
  if (decisions_.count(node)) return TrustSource::kApi;
  return configured_.count(node) ? TrustSource::kConfig : TrustSource::kNone;
}

Status TrustList::Set(const std::string& node, bool trusted) {
  ES_RETURN_IF_ERROR(CheckName(node, "trust"));
  auto it = decisions_.find(node);
  if (it == decisions_.end() && decisions_.size() >= max_decisions_)
    return ResourceExhausted("trust: " + std::to_string(max_decisions_) + " decisions recorded already");
  decisions_[node] = trusted;
  return Status::Ok();
}

Status TrustList::Restore(const std::map<std::string, bool>& decisions) {
  if (decisions.size() > max_decisions_) return ResourceExhausted("trust: too many decisions");
  for (const auto& [node, t] : decisions) ES_RETURN_IF_ERROR(CheckName(node, "trust"));
  decisions_ = decisions;
  return Status::Ok();
}

Status ValidateTrustedNodes(const std::vector<std::string>& names) {
  std::set<std::string> seen;
  for (const auto& n : names) {
    ES_RETURN_IF_ERROR(CheckName(n, "trusted_nodes"));
    if (!seen.insert(n).second) return InvalidArgument("trusted_nodes: " + n + " is listed twice");
  }
  return Status::Ok();
}

}  // namespace edgesplit::orch
