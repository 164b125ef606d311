#include "orchestrator/controller/load_estimate.h"

#include <algorithm>
#include <map>
#include <vector>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::orch {

double PassRate(const std::string& deployment, const NodeRegistry& registry, const planner::PlanningInstance& instance) {
  if (!planner::ValidateInstance(instance).ok()) return 0;
  const planner::CompiledInstance ci(instance);
  std::map<uint64_t, std::vector<double>> by_epoch;
  double requests = 0;
  for (const auto& [name, n] : registry.nodes()) {
    if (n.state != NodeState::kAlive) continue;
    const int v = ci.NodeIndex(name);
    for (const auto& s : n.profile.segments) {
      if (s.deployment != deployment || (s.state != "ready" && s.state != "draining")) continue;
      if (s.first_layer == 0) requests += std::max(0.0, s.request_rate);
      if (v < 0 || !(s.busy_fraction > 0)) continue;
      const int first = std::max(0, s.first_layer), end = std::min(ci.num_layers(), s.end_layer);
      if (first >= end) continue;
      const double predicted_ms = ci.Compute(v, first, end);
      if (predicted_ms > 0) by_epoch[s.epoch].push_back(s.busy_fraction * 1000.0 / predicted_ms);
    }
  }
  double passes = 0;
  for (auto& [epoch, rates] : by_epoch) {
    std::sort(rates.begin(), rates.end());
    const size_t k = rates.size();
    passes += k % 2 ? rates[k / 2] : (rates[k / 2 - 1] + rates[k / 2]) / 2;
  }
  return std::max(passes, requests);
}

}  // namespace edgesplit::orch
