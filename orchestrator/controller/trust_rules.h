// The privacy rule a committed or proposed plan must keep (DESIGN.md "Identity and trust"): the
// entry (it receives clients' raw inputs) and every stage holding a layer below the
// deployment's trusted_prefix_layers run on nodes the operator trusts. Pure.
#pragma once

#include <string>
#include <vector>

#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/rollout/rollout.h"

namespace edgesplit::orch {

// "" when `stages` keep the rule; else why not, naming the first offending node.
std::string TrustViolation(const std::vector<StageTarget>& stages, int trusted_prefix_layers, const NodeRegistry& registry);

}  // namespace edgesplit::orch
