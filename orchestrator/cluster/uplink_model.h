// Which link is slow: one pair, or the node's own uplink that every link out of it shares
// (issue 12). A link out of a node that drops to under half its previous rate is presumed to be
// the node's uplink — the common case at the edge, one shared uplink — and caps every link out
// of the node in the plan, until a newer measurement of any link out of it shows more than twice
// that rate (then the uplink is not the limit: the pair was). Without it a plan first moves the
// next stage to another peer behind the same congested uplink, whose stale figure still says
// fast. Pure: the registry updates it on every heartbeat.
#pragma once

#include <cstdint>
#include <vector>

#include "orchestrator/cluster/node.h"

namespace edgesplit::orch {

struct UplinkCap {
  double mbps = 0;  // 0: no evidence that the uplink limits
  int64_t since_unix_ms = 0;  // the measurement that set it
};

// `before` and `after`: the node's link reports in its previous and its new profile. Only
// measurements newer than the previous one of the same peer count; failed probes never do.
UplinkCap UpdateUplinkCap(UplinkCap cap, const std::vector<LinkReport>& before, const std::vector<LinkReport>& after);

}  // namespace edgesplit::orch
