#include "orchestrator/controller/instance_builder.h"

#include <algorithm>

namespace edgesplit::orch {

Result<int64_t> KvContextTokens(const DeploymentSpec& spec, const Manifest& manifest) {
  if (!manifest.generation) {
    // Naming the key the client set: a reservation only makes sense for a generating model.
    if (spec.kv_context_tokens > 0)
      return InvalidArgument("deployment.kv_context_tokens: model " + manifest.name + " has no generation section");
    if (spec.kv_sessions > 0)
      return InvalidArgument("deployment.kv_sessions: model " + manifest.name + " has no generation section");
    return 0;
  }
  const int64_t max_context = manifest.generation->max_context;
  if (spec.kv_context_tokens > max_context)
    return InvalidArgument("deployment.kv_context_tokens: " + std::to_string(spec.kv_context_tokens) +
                           " exceeds the model's generation.max_context " + std::to_string(max_context));
  return spec.kv_context_tokens > 0 ? spec.kv_context_tokens : max_context;
}

Result<planner::PlanningInstance> BuildPlanningInstance(const DeploymentSpec& spec, const ModelCatalog& catalog,
                                                        const NodeRegistry& registry, const LinkTable& links,
                                                        const planner::LinkSpec& default_link, const ScaleMemory& remembered) {
  const CatalogModel* m = catalog.Find(spec.model);
  if (!m) return NotFound("unknown model " + spec.model);
  ES_ASSIGN_OR_RETURN(const int64_t kv_tokens, KvContextTokens(spec, m->manifest));
  planner::PlanningInstance inst;
  inst.model.name = m->name;
  inst.model.input_bytes = static_cast<double>(m->InputBytes());
  for (int i = 0; i < m->num_layers(); ++i) {
    const LayerSpec& l = m->manifest.layers[i];
    inst.model.layers.push_back({l.name, m->reference_layer_ms[i], static_cast<double>(l.param_bytes),
                                 static_cast<double>(m->OutputBytes(i)),
                                 l.state ? static_cast<double>(l.state->bytes_per_token) : 0.0});
  }
  inst.model.kv_reserve_tokens = static_cast<double>(spec.kv_sessions) * static_cast<double>(kv_tokens);
  std::vector<const NodeRecord*> nodes;
  for (const auto& [name, n] : registry.nodes()) {
    if (n.state != NodeState::kAlive) continue;
    if (!n.models.empty() && std::find(n.models.begin(), n.models.end(), spec.model) == n.models.end()) continue;
    nodes.push_back(&n);
  }
  if (nodes.empty()) return FailedPrecondition("no alive node can serve model " + spec.model);
  // Site calibration: the median measured/reference ratio of the nodes that measured this model.
  double calibration = 1.0;
  {
    std::vector<double> ratios;
    for (const NodeRecord* n : nodes) {
      double r = MeasuredRatio(*m, *n);
      if (r > 0) ratios.push_back(r);
    }
    if (!ratios.empty()) {
      std::nth_element(ratios.begin(), ratios.begin() + ratios.size() / 2, ratios.end());
      calibration = ratios[ratios.size() / 2];
    }
  }
  for (const NodeRecord* n : nodes) {
    planner::NodeSpec ns;
    ns.name = n->name;
    ns.speed = SpeedFor(*m, *n);
    double mem = n->profile.memory_available_bytes > 0 ? static_cast<double>(n->profile.memory_available_bytes) : 64e9;
    // Weights this node already holds for this deployment stay usable by the next plan.
    for (const auto& s : n->profile.segments) {
      if (s.deployment != spec.name || s.model != m->name) continue;
      for (int l = std::max(0, s.first_layer); l < s.end_layer && l < m->num_layers(); ++l)
        mem += static_cast<double>(m->manifest.layers[l].param_bytes);
    }
    ns.memory_bytes = mem;
    ns.trusted = n->trusted;
    ns.uplink_mbps = n->uplink_cap_mbps;  // 0 unless measurement points at the node's uplink
    double memory_scale = 0;
    if (auto it = remembered.find(n->name); it != remembered.end())
      if (auto jt = it->second.find(m->name); jt != it->second.end()) memory_scale = jt->second;
    ns.compute_ms = LayerCostsOn(*m, *n, 20, calibration, memory_scale);
    inst.nodes.push_back(std::move(ns));
  }
  inst.links.default_link = default_link;
  if (nodes.size() <= 64) {
    for (const NodeRecord* u : nodes) {
      for (const NodeRecord* v : nodes) {
        if (u == v) continue;
        planner::LinkSpec link = default_link;
        bool set = false;
        auto lu = links.find(u->name);
        if (lu != links.end()) {
          auto lv = lu->second.find(v->name);
          if (lv != lu->second.end()) {
            link.bandwidth_mbps = lv->second.bandwidth_mbps;
            link.latency_ms = std::max(0.0, lv->second.rtt_ms / 2);
            set = true;
          }
        }
        if (set) inst.links.pairs.push_back({u->name, v->name, link, false});
      }
    }
  }
  // The entry receives the clients' raw inputs: it is always a node the operator trusts, never
  // one that merely says it is trusted (an agent's claim is not in NodeRecord::trusted).
  std::string source = spec.entry_node;
  if (source.empty()) {
    double best = -1;
    for (const NodeRecord* n : nodes) {
      if (n->trusted && n->EffectiveSpeed() > best) {
        best = n->EffectiveSpeed();
        source = n->name;
      }
    }
    if (source.empty())
      return FailedPrecondition("no alive node trusted by the operator can be the entry for model " + spec.model +
                                " (trust nodes with trusted_nodes in the orchestrator's config or PUT /v1/nodes/{name}/trust)");
  }
  if (std::none_of(nodes.begin(), nodes.end(), [&](const NodeRecord* n) { return n->name == source; }))
    return FailedPrecondition("entry node " + source + " is not alive");
  if (!registry.IsTrusted(source))
    return FailedPrecondition("entry node " + source + " is not trusted by the operator (trusted_nodes in the "
                              "orchestrator's config or PUT /v1/nodes/" + source + "/trust)");
  inst.source = source;
  // The data plane returns results to the entry (the first stage), and clients talk to it: the
  // entry is the source, so layer 0 stays there and the planner's cost model matches reality
  // (no result transfer it did not price), and the entry address never moves.
  inst.constraints.pinned[0] = source;
  inst.constraints.trusted_prefix_layers = std::min(spec.trusted_prefix_layers, m->num_layers());
  inst.constraints.max_stages = spec.max_stages;
  inst.objective = spec.objective;
  ES_RETURN_IF_ERROR(planner::ValidateInstance(inst));
  return inst;
}

}  // namespace edgesplit::orch
