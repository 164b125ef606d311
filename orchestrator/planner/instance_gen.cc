#include "orchestrator/planner/instance_gen.h"

#include <algorithm>
#include <random>

namespace edgesplit::planner {

PlanningInstance RandomTinyInstance(uint64_t seed, int max_nodes, int max_layers) {
  std::mt19937_64 rng(seed);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto pick = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  auto coin = [&](double p) { return uni(0, 1) < p; };
  PlanningInstance in;
  const int n = pick(1, max_nodes), L = pick(1, max_layers);
  in.model.name = "tiny";
  in.model.input_bytes = uni(0, 4e5);
  for (int l = 0; l < L; ++l)
    in.model.layers.push_back({"l" + std::to_string(l), uni(0.1, 10), uni(0, 1e6), uni(1e3, 4e5)});
  double total = 0;
  for (const auto& l : in.model.layers) total += l.param_bytes;
  for (int v = 0; v < n; ++v) {
    NodeSpec s;
    s.name = "n" + std::to_string(v);
    s.speed = uni(0.3, 3);
    s.memory_bytes = coin(0.3) ? 1e12 : uni(0.2, 1.2) * total + 8e5;
    s.trusted = coin(0.4);
    if (coin(0.2))
      for (int l = 0; l < L; ++l) s.compute_ms.push_back(uni(0.05, 8));
    in.nodes.push_back(s);
  }
  if (coin(0.5)) in.links.default_link = LinkSpec{uni(5, 1000), uni(0, 3)};
  for (int u = 0; u < n; ++u)
    for (int v = u + 1; v < n; ++v) {
      if (coin(in.links.default_link ? 0.3 : 0.7))
        in.links.pairs.push_back({"n" + std::to_string(u), "n" + std::to_string(v), {uni(5, 1000), uni(0, 3)}, !coin(0.25)});
    }
  in.source = "n" + std::to_string(pick(0, n - 1));
  if (coin(0.4)) in.constraints.trusted_prefix_layers = pick(0, L);
  if (coin(0.3)) in.constraints.max_stages = pick(1, n);
  if (coin(0.15)) in.constraints.pinned[pick(0, L - 1)] = "n" + std::to_string(pick(0, n - 1));
  const int k = pick(0, 2);
  in.objective.kind = k == 0 ? ObjectiveKind::kLatency : k == 1 ? ObjectiveKind::kPeriod : ObjectiveKind::kMixed;
  if (in.objective.kind == ObjectiveKind::kMixed) in.objective.alpha = uni(0, 1), in.objective.beta = uni(0.1, 5);
  if (coin(0.2)) {
    // A structurally valid current plan over distinct nodes.
    std::vector<int> nodes(n);
    for (int v = 0; v < n; ++v) nodes[v] = v;
    std::shuffle(nodes.begin(), nodes.end(), rng);
    const int stages = pick(1, std::min(n, L));
    std::vector<int> cuts;
    for (int l = 1; l < L; ++l) cuts.push_back(l);
    std::shuffle(cuts.begin(), cuts.end(), rng);
    cuts.resize(stages - 1);
    cuts.push_back(0);
    cuts.push_back(L);
    std::sort(cuts.begin(), cuts.end());
    CurrentPlan cp;
    for (int s = 0; s < stages; ++s) cp.stages.push_back({"n" + std::to_string(nodes[s]), cuts[s], cuts[s + 1]});
    in.current_plan = cp;
    in.migration = MigrationOptions{uni(10, 1000), uni(1, 100)};
  }
  // Drawn last so the instances above stay as they were: a KV reservation on a third of them,
  // its total between 0 and 60 % of the weights (stateless layers now and then), so it moves
  // the memory limits without making most instances infeasible.
  if (coin(0.35)) {
    in.model.kv_reserve_tokens = static_cast<double>(pick(1, 4096));
    const double per_layer = uni(0, 0.6) * total / L / in.model.kv_reserve_tokens;
    for (auto& l : in.model.layers) l.state_bytes_per_token = coin(0.2) ? 0.0 : uni(0, 2) * per_layer;
  }
  // Drawn after that, for the same reason: a node uplink or downlink (shared by all its links)
  // on a quarter of the nodes, often tighter than the links themselves.
  for (auto& s : in.nodes) {
    if (coin(0.25)) s.uplink_mbps = uni(5, 500);
    if (coin(0.25)) s.downlink_mbps = uni(5, 500);
  }
  return in;
}

const char* FamilyName(Family f) {
  switch (f) {
    case Family::kPipeEdge: return "pipeedge";
    case Family::kLowBandwidth: return "low_bandwidth";
    case Family::kClustered: return "clustered";
    case Family::kTrusted: return "trusted";
  }
  return "?";
}

PlanningInstance FamilyInstance(Family family, int n, int L, uint64_t seed, ObjectiveKind objective) {
  std::mt19937_64 rng(seed * 7919 + static_cast<uint64_t>(family) * 104729 + n * 31 + L);
  auto uni = [&](double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); };
  auto normal = [&](double m, double s) { return std::normal_distribution<double>(m, s)(rng); };
  PlanningInstance in;
  in.model.name = "gpt-" + std::to_string(L);
  // Transformer-ish: seq 512 x d 1024 fp16 activations, ~12.6 MB of weights per block.
  const double act = 512 * 1024 * 2;
  in.model.input_bytes = 512 * 4;
  for (int l = 0; l < L; ++l) {
    const bool edge = l == 0 || l == L - 1;
    in.model.layers.push_back({"layer" + std::to_string(l), edge ? 2.0 : uni(4, 6), edge ? 51e6 : 12.6e6 * uni(0.9, 1.1),
                               l == L - 1 ? 512 * 4 * 4 : act});
  }
  double total = 0;
  for (const auto& l : in.model.layers) total += l.param_bytes;
  std::vector<double> host_bw(n);
  std::vector<int> site(n, 0);
  const int sites = std::max(1, n / 8);
  for (int v = 0; v < n; ++v) {
    NodeSpec s;
    s.name = "node" + std::to_string(v);
    s.speed = std::exp(uni(std::log(0.25), std::log(4.0)));
    // Memory between 1/8 and the whole model (plus activations), so splits are needed often.
    s.memory_bytes = total * std::exp(uni(std::log(0.08), std::log(1.2))) + 4 * act;
    const double frac = family == Family::kTrusted ? uni(0.10, 0.25) : 0.5;
    s.trusted = uni(0, 1) < frac;
    in.nodes.push_back(s);
    const double mean = family == Family::kLowBandwidth ? 50 : 500, sd = family == Family::kLowBandwidth ? 20 : 200;
    host_bw[v] = std::clamp(normal(mean, sd), 5.0, 1000.0);
    site[v] = static_cast<int>(uni(0, sites));
  }
  in.source = "node0";
  in.nodes[0].trusted = true;
  if (family == Family::kClustered) {
    // One default across sites would hide the structure: list every pair explicitly.
    std::vector<std::vector<double>> across(sites, std::vector<double>(sites));
    for (auto& row : across)
      for (double& x : row) x = uni(10, 100);
    for (int u = 0; u < n; ++u)
      for (int v = u + 1; v < n; ++v) {
        const bool same = site[u] == site[v];
        in.links.pairs.push_back({in.nodes[u].name, in.nodes[v].name,
                                  {same ? 1000.0 : across[std::min(site[u], site[v])][std::max(site[u], site[v])],
                                   same ? 0.2 : 5.0},
                                  true});
      }
  } else {
    for (int u = 0; u < n; ++u)
      for (int v = u + 1; v < n; ++v)
        in.links.pairs.push_back({in.nodes[u].name, in.nodes[v].name, {std::min(host_bw[u], host_bw[v]), 1.0}, true});
  }
  if (family == Family::kTrusted) in.constraints.trusted_prefix_layers = 1 + static_cast<int>(uni(0, 4));
  in.objective.kind = objective;
  if (objective == ObjectiveKind::kMixed) in.objective.alpha = 1.0, in.objective.beta = 4.0;
  return in;
}

}  // namespace edgesplit::planner
