// TrustList: which nodes the operator trusts to see raw inputs and privacy-restricted layers
// (DESIGN.md "Identity and trust"). Trust is the operator's decision only: the configured list
// (`trusted_nodes`) plus API decisions (PUT /v1/nodes/{name}/trust), which take precedence over
// the list and are persisted with the orchestrator's state. A node's own claim plays no part.
// A decision may name a node that has not registered yet (the operator pre-approves a name).
// Pure; thread-compatible.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace edgesplit::orch {

// Where a node's trust comes from, for display: "api" (a PUT decision), "config" (listed in
// trusted_nodes, no decision), "none" (neither: untrusted).
enum class TrustSource { kNone, kConfig, kApi };
const char* TrustSourceName(TrustSource s);

// Longest node name a trust decision may carry (names come from URL paths).
inline constexpr size_t kMaxTrustNameBytes = 253;

class TrustList {
 public:
  TrustList() = default;
  explicit TrustList(const std::vector<std::string>& configured, size_t max_decisions = 100000);

  bool IsTrusted(const std::string& node) const;
  TrustSource SourceOf(const std::string& node) const;
  // Records an operator decision. Errors: invalid_argument (empty or overlong name),
  // resource_exhausted (max_decisions distinct names).
  Status Set(const std::string& node, bool trusted);
  // Installs decisions read from the state file (replacing the current ones); same checks as Set.
  Status Restore(const std::map<std::string, bool>& decisions);

  const std::map<std::string, bool>& decisions() const { return decisions_; }
  const std::set<std::string>& configured() const { return configured_; }

 private:
  std::set<std::string> configured_;
  std::map<std::string, bool> decisions_;
  size_t max_decisions_ = 100000;
};

// Checks a configured list: names non-empty, not overlong, no duplicates.
Status ValidateTrustedNodes(const std::vector<std::string>& names);

}  // namespace edgesplit::orch
