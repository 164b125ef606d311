// The load a deployment serves, as its agents measure it: the planner's utilisation term
// (planner/load_model.h) needs passes per second in the units the planner prices stages in.
// Pure; thread-compatible.
#pragma once

#include <string>

#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

// Passes per second through `deployment`, counted in full passes at the nominal length the
// layers are priced at: each segment's measured busy fraction divided by what `instance` says
// the segment's layers cost on its node (a generation step, much cheaper than a request, counts
// as the fraction of a pass it kept the stage busy). Per epoch the median over its segments
// (one lagging measurement does not decide), summed over the epochs still serving (a
// reconfiguration drains the old one while the new one fills). At least the requests per
// second the entries count. 0 when nothing measured load.
double PassRate(const std::string& deployment, const NodeRegistry& registry, const planner::PlanningInstance& instance);

}  // namespace edgesplit::orch
