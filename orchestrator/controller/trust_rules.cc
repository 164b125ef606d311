#include "orchestrator/controller/trust_rules.h"

namespace edgesplit::orch {

namespace {
// Index of the first stage breaking the rule, or -1.
int FirstViolation(const std::vector<StageTarget>& stages, int prefix, const NodeRegistry& registry) {
  for (size_t i = 0; i < stages.size(); ++i) {
    const bool restricted = i == 0 || stages[i].first_layer < prefix;
    if (restricted && !registry.IsTrusted(stages[i].node)) return static_cast<int>(i);
  }
  return -1;
}
}  // namespace

std::string TrustViolation(const std::vector<StageTarget>& stages, int trusted_prefix_layers, const NodeRegistry& registry) {
  const int i = FirstViolation(stages, trusted_prefix_layers, registry);
  if (i < 0) return "";
  const StageTarget& s = stages[i];
  if (i == 0) return "entry node " + s.node + " is not trusted by the operator";
  return "node " + s.node + " holds privacy-restricted layers [" + std::to_string(s.first_layer) + ", " +
         std::to_string(std::min(s.end_layer, trusted_prefix_layers)) + ") and is not trusted by the operator";
}

}  // namespace edgesplit::orch
