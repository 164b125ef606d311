#include "orchestrator/controller/load_estimate.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "orchestrator/planner/cost_model.h"

namespace edgesplit::orch {

double SmoothedRate(double previous, double sample, double dt_s, double tau_s) {
  if (!(previous > 0) || !(dt_s > 0) || !(tau_s > 0)) return sample;
  const double a = 1 - std::exp(-dt_s / tau_s);
  return previous + a * (sample - previous);
}

double PassRate(const std::string& deployment, const NodeRegistry& registry, const planner::PlanningInstance& instance) {
  if (!planner::ValidateInstance(instance).ok()) return 0;
  const planner::CompiledInstance ci(instance);
  std::map<uint64_t, std::pair<double, double>> by_epoch;  // epoch -> (busy, priced seconds per pass)
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
      if (!(predicted_ms > 0)) continue;
      by_epoch[s.epoch].first += s.busy_fraction;
      by_epoch[s.epoch].second += predicted_ms / 1000.0;
    }
  }
  double passes = 0;
  for (const auto& [epoch, busy_priced] : by_epoch) passes += busy_priced.first / busy_priced.second;
  return std::max(passes, requests);
}

}  // namespace edgesplit::orch
