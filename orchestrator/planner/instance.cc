#include "orchestrator/planner/instance.h"

#include <cmath>
#include <unordered_set>

namespace edgesplit::planner {

const char* ObjectiveKindName(ObjectiveKind k) {
  switch (k) {
    case ObjectiveKind::kLatency: return "latency";
    case ObjectiveKind::kPeriod: return "period";
    case ObjectiveKind::kMixed: return "mixed";
  }
  return "?";
}

Result<ObjectiveKind> ParseObjectiveKind(const std::string& s) {
  if (s == "latency") return ObjectiveKind::kLatency;
  if (s == "period") return ObjectiveKind::kPeriod;
  if (s == "mixed") return ObjectiveKind::kMixed;
  return InvalidArgument("objective: '" + s + "' is not one of latency, period, mixed");
}

namespace {

bool NonNeg(double x) { return std::isfinite(x) && x >= 0; }
bool Pos(double x) { return std::isfinite(x) && x > 0; }

}  // namespace

Status ValidateInstance(const PlanningInstance& in) {
  std::vector<std::string> errs;
  auto err = [&](std::string m) { errs.push_back(std::move(m)); };
  const int L = static_cast<int>(in.model.layers.size());
  if (L == 0) err("model.layers: must list at least one layer");
  if (!NonNeg(in.model.input_bytes)) err("model.input_bytes: must be a finite number >= 0");
  if (!NonNeg(in.model.kv_reserve_tokens)) err("model.kv_reserve_tokens: must be a finite number >= 0");
  for (int l = 0; l < L; ++l) {
    const auto& x = in.model.layers[l];
    const std::string k = "model.layers[" + std::to_string(l) + "]";
    if (!NonNeg(x.compute_ms)) err(k + ".compute_ms: must be a finite number >= 0");
    if (!NonNeg(x.param_bytes)) err(k + ".param_bytes: must be a finite number >= 0");
    if (!NonNeg(x.output_bytes)) err(k + ".output_bytes: must be a finite number >= 0");
    if (!NonNeg(x.state_bytes_per_token)) err(k + ".state_bytes_per_token: must be a finite number >= 0");
  }
  if (in.nodes.empty()) err("nodes: must list at least one node");
  std::unordered_set<std::string> names;
  for (size_t i = 0; i < in.nodes.size(); ++i) {
    const auto& n = in.nodes[i];
    const std::string k = "nodes[" + std::to_string(i) + "]";
    if (n.name.empty()) err(k + ".name: must not be empty");
    else if (!names.insert(n.name).second) err(k + ".name: duplicate node '" + n.name + "'");
    if (!Pos(n.speed)) err(k + ".speed: must be a finite number > 0");
    if (!NonNeg(n.memory_bytes)) err(k + ".memory_bytes: must be a finite number >= 0");
    if (!NonNeg(n.uplink_mbps)) err(k + ".uplink_mbps: must be a finite number >= 0 (0: not limited)");
    if (!NonNeg(n.downlink_mbps)) err(k + ".downlink_mbps: must be a finite number >= 0 (0: not limited)");
    if (!n.compute_ms.empty()) {
      if (static_cast<int>(n.compute_ms.size()) != L)
        err(k + ".compute_ms: has " + std::to_string(n.compute_ms.size()) + " entries, the model has " +
            std::to_string(L) + " layers");
      for (double t : n.compute_ms)
        if (!NonNeg(t)) {
          err(k + ".compute_ms: entries must be finite numbers >= 0");
          break;
        }
    }
  }
  if (in.links.default_link) {
    if (!Pos(in.links.default_link->bandwidth_mbps)) err("links.default.bandwidth_mbps: must be a finite number > 0");
    if (!NonNeg(in.links.default_link->latency_ms)) err("links.default.latency_ms: must be a finite number >= 0");
  }
  for (size_t i = 0; i < in.links.pairs.size(); ++i) {
    const auto& p = in.links.pairs[i];
    const std::string k = "links.pairs[" + std::to_string(i) + "]";
    if (!names.count(p.from)) err(k + ".from: unknown node '" + p.from + "'");
    if (!names.count(p.to)) err(k + ".to: unknown node '" + p.to + "'");
    if (p.from == p.to) err(k + ": from and to are the same node '" + p.from + "'");
    if (!Pos(p.link.bandwidth_mbps)) err(k + ".bandwidth_mbps: must be a finite number > 0");
    if (!NonNeg(p.link.latency_ms)) err(k + ".latency_ms: must be a finite number >= 0");
  }
  if (in.source.empty()) err("source: missing (a node name)");
  else if (!names.count(in.source)) err("source: unknown node '" + in.source + "'");
  const auto& c = in.constraints;
  if (c.trusted_prefix_layers < 0 || c.trusted_prefix_layers > L)
    err("constraints.trusted_prefix_layers: must be in [0, " + std::to_string(L) + "]");
  if (c.max_stages < 0) err("constraints.max_stages: must be >= 0 (0 = no limit)");
  if (!(c.max_period_ms >= 0) || !std::isfinite(c.max_period_ms))
    err("constraints.max_period_ms: must be a finite number >= 0 (0 = no cap)");
  for (const auto& [layer, node] : c.pinned) {
    const std::string k = "constraints.pinned[" + std::to_string(layer) + "]";
    if (layer < 0 || layer >= L) err(k + ": layer out of range [0, " + std::to_string(L) + ")");
    if (!names.count(node)) err(k + ": unknown node '" + node + "'");
  }
  const auto& o = in.objective;
  if (!NonNeg(o.alpha)) err("objective.alpha: must be a finite number >= 0");
  if (!NonNeg(o.beta)) err("objective.beta: must be a finite number >= 0");
  if (o.kind == ObjectiveKind::kMixed && o.alpha == 0 && o.beta == 0) err("objective: alpha and beta are both 0");
  if (in.current_plan) {
    std::unordered_set<std::string> used;
    int next = 0;
    const auto& st = in.current_plan->stages;
    if (st.empty()) err("current_plan.stages: must list at least one stage");
    for (size_t i = 0; i < st.size(); ++i) {
      const std::string k = "current_plan.stages[" + std::to_string(i) + "]";
      if (!names.count(st[i].node)) err(k + ".node: unknown node '" + st[i].node + "'");
      else if (!used.insert(st[i].node).second) err(k + ".node: node '" + st[i].node + "' holds two stages");
      if (st[i].first_layer != next || st[i].end_layer <= st[i].first_layer || st[i].end_layer > L)
        err(k + ": range [" + std::to_string(st[i].first_layer) + ", " + std::to_string(st[i].end_layer) +
            ") does not continue the plan at layer " + std::to_string(next));
      next = st[i].end_layer;
    }
    if (!st.empty() && next != L) err("current_plan.stages: do not cover all " + std::to_string(L) + " layers");
  }
  if (in.migration) {
    if (!Pos(in.migration->weight_fetch_mbps)) err("migration.weight_fetch_mbps: must be a finite number > 0");
    if (!Pos(in.migration->horizon_requests)) err("migration.horizon_requests: must be a finite number > 0");
  }
  if (errs.empty()) return Status::Ok();
  std::string m = errs[0];
  for (size_t i = 1; i < errs.size(); ++i) m += "; " + errs[i];
  return InvalidArgument(m);
}

}  // namespace edgesplit::planner
