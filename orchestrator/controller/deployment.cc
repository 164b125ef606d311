#include "orchestrator/controller/deployment.h"

#include <algorithm>
#include <cctype>
#include <cmath>

namespace edgesplit::orch {

const char* DeploymentStatusName(DeploymentStatus s) {
  switch (s) {
    case DeploymentStatus::kDeploying: return "deploying";
    case DeploymentStatus::kServing: return "serving";
    case DeploymentStatus::kReconfiguring: return "reconfiguring";
    case DeploymentStatus::kDegraded: return "degraded";
    case DeploymentStatus::kAdopting: return "adopting";
  }
  return "unknown";
}

Status DeploymentSpec::Validate() const {
  std::string e;
  auto valid_name = [](const std::string& n) {
    return !n.empty() && n.size() <= 64 &&
           std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; });
  };
  if (!valid_name(name)) e += "name must be 1-64 characters of [A-Za-z0-9._-]; ";
  if (model.empty()) e += "model is required; ";
  if (!(slo_latency_ms >= 0) || !std::isfinite(slo_latency_ms)) e += "slo_latency_ms must be >= 0; ";
  if (trusted_prefix_layers < 0) e += "trusted_prefix_layers must be >= 0; ";
  if (max_stages < 0) e += "max_stages must be >= 0; ";
  if (kv_sessions < 0) e += "kv_sessions must be >= 0; ";
  if (kv_context_tokens < 0) e += "kv_context_tokens must be >= 0; ";
  if (objective.kind == planner::ObjectiveKind::kMixed && !(objective.alpha >= 0 && objective.beta >= 0))
    e += "objective alpha and beta must be >= 0; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

double Deployment::ObservedP50(TimePoint now, Duration window) const {
  std::vector<double> v;
  for (const auto& [t, ms] : observed_ms) {
    if (now - t <= window) v.push_back(ms);
  }
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

}  // namespace edgesplit::orch
