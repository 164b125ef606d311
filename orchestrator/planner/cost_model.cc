#include "orchestrator/planner/cost_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace edgesplit::planner {

CompiledInstance::CompiledInstance(const PlanningInstance& in) : inst_(&in) {
  n_ = static_cast<int>(in.nodes.size());
  for (int v = 0; v < n_; ++v) index_.emplace(in.nodes[v].name, v);
  L_ = static_cast<int>(in.model.layers.size());
  src_ = std::max(0, NodeIndex(in.source));
  prefix_ = in.constraints.trusted_prefix_layers;
  max_stages_ = in.constraints.max_stages > 0 ? std::min(in.constraints.max_stages, n_) : n_;
  if (in.constraints.max_period_ms > 0) cap_ = in.constraints.max_period_ms;
  switch (in.objective.kind) {
    case ObjectiveKind::kLatency: A_ = 1, B_ = 0; break;
    case ObjectiveKind::kPeriod: A_ = 0, B_ = 1; break;
    case ObjectiveKind::kMixed: A_ = in.objective.alpha, B_ = in.objective.beta; break;
  }
  act_.resize(L_ + 1);
  act_[0] = in.model.input_bytes;
  param_prefix_.assign(L_ + 1, 0);
  kv_prefix_.assign(L_ + 1, 0);
  for (int l = 0; l < L_; ++l) {
    act_[l + 1] = in.model.layers[l].output_bytes;
    param_prefix_[l + 1] = param_prefix_[l] + in.model.layers[l].param_bytes;
    // The KV reservation is memory the stage holds like its weights: fold it into the same check.
    kv_prefix_[l + 1] = kv_prefix_[l] + in.model.kv_reserve_tokens * in.model.layers[l].state_bytes_per_token;
  }
  cp_.assign(static_cast<size_t>(n_) * (L_ + 1), 0);
  trusted_.resize(n_);
  for (int v = 0; v < n_; ++v) {
    const auto& nd = in.nodes[v];
    // The source holds the raw input and receives the result anyway, so it counts as trusted.
    trusted_[v] = nd.trusted || v == src_;
    for (int l = 0; l < L_; ++l) {
      double t = nd.compute_ms.empty() ? in.model.layers[l].compute_ms / nd.speed : nd.compute_ms[l];
      cp_[v * (L_ + 1) + l + 1] = cp_[v * (L_ + 1) + l] + t;
    }
  }
  lat_.assign(static_cast<size_t>(n_) * n_, kInf);
  inv_bw_.assign(static_cast<size_t>(n_) * n_, kInf);
  auto set = [&](int u, int v, const LinkSpec& s) {
    lat_[u * n_ + v] = s.latency_ms;
    inv_bw_[u * n_ + v] = 8e-3 / s.bandwidth_mbps;  // ms per byte
  };
  if (in.links.default_link)
    for (int u = 0; u < n_; ++u)
      for (int v = 0; v < n_; ++v) set(u, v, *in.links.default_link);
  // Pairs usually come grouped by `from`: remember the last lookup.
  const std::string* last_from = nullptr;
  int last_u = -1;
  for (const auto& p : in.links.pairs) {
    if (!last_from || *last_from != p.from) last_from = &p.from, last_u = NodeIndex(p.from);
    int u = last_u, v = NodeIndex(p.to);
    set(u, v, p.link);
    if (p.symmetric) set(v, u, p.link);
  }
  // The nodes' own uplinks and downlinks cap every link out of / into them.
  for (int u = 0; u < n_; ++u)
    for (int v = 0; v < n_; ++v) {
      double& ib = inv_bw_[u * n_ + v];
      if (ib >= kInf) continue;  // no link
      const double up = in.nodes[u].uplink_mbps, down = in.nodes[v].downlink_mbps;
      if (up > 0) ib = std::max(ib, 8e-3 / up);
      if (down > 0) ib = std::max(ib, 8e-3 / down);
    }
  for (int v = 0; v < n_; ++v) lat_[v * n_ + v] = 0, inv_bw_[v * n_ + v] = 0;
  lat_t_.resize(lat_.size());
  inv_bw_t_.resize(inv_bw_.size());
  for (int u = 0; u < n_; ++u)
    for (int v = 0; v < n_; ++v) lat_t_[v * n_ + u] = lat_[u * n_ + v], inv_bw_t_[v * n_ + u] = inv_bw_[u * n_ + v];

  // Pins: a node holds at most one stage, so its stage must span all its pinned layers.
  pin_lo_.assign(n_, L_);
  pin_hi_.assign(n_, 0);
  std::vector<int> pin_of(L_, -1);
  for (const auto& [layer, name] : in.constraints.pinned) {
    int v = NodeIndex(name);
    pin_of[layer] = v;
    pin_lo_[v] = std::min(pin_lo_[v], layer);
    pin_hi_[v] = std::max(pin_hi_[v], layer + 1);
    any_pin_ = true;
  }
  max_end_.assign(static_cast<size_t>(n_) * (L_ + 1), 0);
  for (int v = 0; v < n_; ++v) {
    const double mem = in.nodes[v].memory_bytes;
    for (int i = 0; i <= L_; ++i) {
      int j = i;
      double amax = act_[i];
      while (j < L_) {
        if (pin_of[j] >= 0 && pin_of[j] != v) break;
        double a2 = std::max(amax, act_[j + 1]);
        if (param_prefix_[j + 1] - param_prefix_[i] + KvBytes(i, j + 1) + 2 * a2 > mem) break;
        amax = a2;
        ++j;
      }
      max_end_[v * (L_ + 1) + i] = j;
    }
  }

  if (in.migration) {
    has_mig_ = true;
    horizon_ = in.migration->horizon_requests;
    mig_.assign(static_cast<size_t>(n_) * (L_ + 1), 0);
    std::vector<int> holder(L_, -1);
    if (in.current_plan)
      for (const auto& s : in.current_plan->stages)
        for (int l = s.first_layer; l < s.end_layer; ++l) holder[l] = NodeIndex(s.node);
    const double ms_per_byte = 8e-3 / in.migration->weight_fetch_mbps / horizon_;
    for (int v = 0; v < n_; ++v)
      for (int l = 0; l < L_; ++l)
        mig_[v * (L_ + 1) + l + 1] =
            mig_[v * (L_ + 1) + l] + (holder[l] == v ? 0.0 : in.model.layers[l].param_bytes * ms_per_byte);
  }
}

const std::string& CompiledInstance::node_name(int v) const { return inst_->nodes[v].name; }

int CompiledInstance::NodeIndex(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? -1 : it->second;
}

double CompiledInstance::Memory(int i, int j) const {
  double amax = 0;
  for (int k = i; k <= j; ++k) amax = std::max(amax, act_[k]);
  return param_prefix_[j] - param_prefix_[i] + KvBytes(i, j) + 2 * amax;
}

namespace {

std::string Range(int i, int j) { return std::to_string(i) + "-" + std::to_string(j - 1); }

}  // namespace

std::string BytesText(double bytes) {
  if (std::isfinite(bytes) && std::fabs(bytes) < 9e18) return std::to_string(static_cast<long long>(bytes));
  char b[32];
  std::snprintf(b, sizeof(b), "%.3g", bytes);
  return b;
}

std::string CompiledInstance::NeedsBytes(int i, int j) const {
  std::string s = " (needs " + BytesText(Memory(i, j)) + " bytes";
  if (KvBytes(i, j) > 0) s += ", " + BytesText(KvBytes(i, j)) + " of them KV reservation";
  return s + ")";
}

PlanCost CompiledInstance::EvaluateIndex(const std::vector<IStage>& st) const {
  PlanCost c;
  auto fail = [&](std::string m) {
    c.violation = std::move(m);
    return c;
  };
  if (st.empty()) return fail("plan has no stages");
  if (static_cast<int>(st.size()) > max_stages_)
    return fail("max_stages: plan has " + std::to_string(st.size()) + " stages, at most " +
                std::to_string(max_stages_) + " allowed");
  std::vector<bool> used(n_, false);
  int next = 0;
  for (const auto& s : st) {
    if (s.node < 0 || s.node >= n_) return fail("stage on unknown node");
    const std::string& nm = node_name(s.node);
    if (used[s.node]) return fail("node '" + nm + "' holds two stages");
    used[s.node] = true;
    if (s.first != next || s.end <= s.first || s.end > L_) return fail("stages do not cover the layers in order");
    next = s.end;
    if (!StartAllowed(s.node, s.first))
      return fail("trusted_prefix_layers: untrusted node '" + nm + "' holds layer " + std::to_string(s.first));
    if (s.end > MaxEnd(s.node, s.first)) {
      if (Memory(s.first, s.end) > inst_->nodes[s.node].memory_bytes)
        return fail("memory: node '" + nm + "' cannot hold layers " + Range(s.first, s.end) + NeedsBytes(s.first, s.end));
      return fail("pinned: layers " + Range(s.first, s.end) + " include a layer pinned to another node");
    }
    if (pin_lo_[s.node] < pin_hi_[s.node] && (s.first > pin_lo_[s.node] || s.end < pin_hi_[s.node]))
      return fail("pinned: node '" + nm + "' does not hold all its pinned layers");
  }
  if (next != L_) return fail("stages do not cover all layers");
  for (int v = 0; v < n_; ++v)
    if (!used[v] && pin_lo_[v] < pin_hi_[v]) return fail("pinned: node '" + node_name(v) + "' holds no stage");
  double lat = 0, per = 0, mig = 0, fetch = 0;
  int prev = src_;
  for (const auto& s : st) {
    if (!HasLink(prev, s.node))
      return fail("links: no link from '" + node_name(prev) + "' to '" + node_name(s.node) + "'");
    lat += Transfer(prev, s.node, act_[s.first]);
    per = std::max(per, BwTime(prev, s.node, act_[s.first]));
    double comp = Compute(s.node, s.first, s.end);
    lat += comp;
    per = std::max(per, comp);
    mig += Migration(s.node, s.first, s.end);
    fetch += FetchMs(s.node, s.first, s.end);
    prev = s.node;
  }
  if (!HasLink(prev, src_)) return fail("links: no link from '" + node_name(prev) + "' back to the source");
  lat += Transfer(prev, src_, act_[L_]);
  per = std::max(per, BwTime(prev, src_, act_[L_]));
  if (per > cap_) {
    char b[160];
    std::snprintf(b, sizeof(b), "max_period_ms: the plan's period %.3f ms exceeds the cap %.3f ms", per, cap_);
    return fail(b);
  }
  c.feasible = true;
  c.latency_ms = lat;
  c.period_ms = per;
  c.migration_ms = fetch;
  c.value = A_ * lat + B_ * per + mig;
  return c;
}

std::vector<Stage> CompiledInstance::ToNamed(const std::vector<IStage>& st) const {
  std::vector<Stage> out;
  for (const auto& s : st) out.push_back({node_name(s.node), s.first, s.end});
  return out;
}

PlanCost Evaluate(const PlanningInstance& instance, const std::vector<Stage>& stages) {
  PlanCost c;
  if (Status s = ValidateInstance(instance); !s.ok()) {
    c.violation = s.message();
    return c;
  }
  CompiledInstance ci(instance);
  std::vector<IStage> st;
  for (const auto& s : stages) {
    int v = ci.NodeIndex(s.node);
    if (v < 0) {
      c.violation = "unknown node '" + s.node + "' in plan";
      return c;
    }
    st.push_back({v, s.first_layer, s.end_layer});
  }
  return ci.EvaluateIndex(st);
}

}  // namespace edgesplit::planner
