#include "orchestrator/cluster/uplink_model.h"

namespace edgesplit::orch {

namespace {
constexpr double kFactor = 2.0;  // a drop or a recovery: more than this ratio

const LinkReport* Find(const std::vector<LinkReport>& links, const std::string& peer) {
  for (const auto& l : links)
    if (l.peer == peer && l.error.empty() && l.bandwidth_mbps > 0) return &l;
  return nullptr;
}
}  // namespace

UplinkCap UpdateUplinkCap(UplinkCap cap, const std::vector<LinkReport>& before, const std::vector<LinkReport>& after) {
  for (const auto& l : after) {
    if (!l.error.empty() || !(l.bandwidth_mbps > 0)) continue;
    const LinkReport* prev = Find(before, l.peer);
    if (prev && l.measured_unix_ms <= prev->measured_unix_ms) continue;  // nothing new
    if (prev && l.bandwidth_mbps * kFactor < prev->bandwidth_mbps) {
      cap = {l.bandwidth_mbps, l.measured_unix_ms};  // a drop: presumed the uplink
    } else if (cap.mbps > 0 && l.measured_unix_ms > cap.since_unix_ms && l.bandwidth_mbps > kFactor * cap.mbps) {
      cap = {};  // a link out of the node is fast again (or always was): the uplink does not limit
    }
  }
  return cap;
}

}  // namespace edgesplit::orch
