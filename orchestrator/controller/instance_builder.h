// Building the planner's instance for a deployment from what the orchestrator knows: the
// model catalog (reference per-layer costs, sizes), the node registry (alive nodes, speed,
// memory, trust, measured per-layer times) and the measured links. Pure; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/base/status.h"
#include "orchestrator/cluster/model_catalog.h"
#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/controller/deployment.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

// Latest good link measurement per ordered pair: from -> to -> report.
using LinkTable = std::map<std::string, std::map<std::string, LinkReport>>;
// Measured/reference ratio a node showed on its last trusted segments of a model, while still
// valid (LayerCostsOn's remembered_scale): node -> model -> scale.
using ScaleMemory = std::map<std::string, std::map<std::string, double>>;

// The context tokens per session the deployment reserves KV state for: kv_context_tokens, or
// the model's generation.max_context when 0; 0 for a model without a generation section.
// InvalidArgument naming the key when a reservation is asked of a model that cannot generate,
// or kv_context_tokens exceeds max_context.
Result<int64_t> KvContextTokens(const DeploymentSpec& spec, const Manifest& manifest);

// The instance for `spec` over the alive nodes that can serve its model. Node memory is the
// available memory plus the weights the node already holds for this deployment; a pair without
// a measurement uses `default_link`, capped by the sender's egress limit. The entry node
// (spec.entry_node, else the fastest operator-trusted node) is the source and holds layer 0.
// NotFound for an unknown model, FailedPrecondition when no alive node can serve it, the
// entry is not alive or not trusted by the operator, or no trusted node can be the entry. Each layer's state_bytes_per_token comes from the manifest and the
// reservation is kv_reserve_tokens = kv_sessions x KvContextTokens(spec).
Result<planner::PlanningInstance> BuildPlanningInstance(const DeploymentSpec& spec, const ModelCatalog& catalog,
                                                        const NodeRegistry& registry, const LinkTable& links,
                                                        const planner::LinkSpec& default_link,
                                                        const ScaleMemory& remembered = {});

}  // namespace edgesplit::orch
