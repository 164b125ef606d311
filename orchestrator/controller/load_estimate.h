// The load a deployment serves, as its agents measure it: the planner's utilisation term
// (planner/load_model.h) needs passes per second in the units the planner prices stages in.
// Pure; thread-compatible.
#pragma once

#include <string>

#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::orch {

// Passes per second through `deployment`, counted in full passes at the nominal length the
// layers are priced at: per epoch, the busy fractions its segments report, summed, over what
// `instance` says one pass costs on them, summed (a generation step, much cheaper than a
// request, counts as the fraction of a pass it kept the stages busy). A ratio of sums, not a
// mean of ratios: a stage priced at a fraction of a millisecond (the entry's embedding) is
// mostly per-pass overhead the prices leave out, and would read as hundreds of passes. Summed
// over the epochs still serving (a reconfiguration drains the old one while the new one
// fills). At least the requests per second the entries count. 0 when nothing measured load.
// Exponential smoothing of the pass rate over time constant tau_s: one heartbeat's busy time
// covers a handful of requests. The first sample (previous <= 0) is taken as it is.
double SmoothedRate(double previous, double sample, double dt_s, double tau_s);

double PassRate(const std::string& deployment, const NodeRegistry& registry, const planner::PlanningInstance& instance);

}  // namespace edgesplit::orch
