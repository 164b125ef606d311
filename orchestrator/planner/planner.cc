#include "orchestrator/planner/planner.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "orchestrator/planner/exact_solver.h"
#include "orchestrator/planner/heuristic_solver.h"
#include "orchestrator/planner/local_search.h"
#include "orchestrator/planner/lower_bound.h"
#include "orchestrator/planner/period_solver.h"
#include "orchestrator/planner/threshold_search.h"

namespace edgesplit::planner {

const char* PlanStatusName(PlanStatus s) {
  switch (s) {
    case PlanStatus::kOptimal: return "optimal";
    case PlanStatus::kFeasible: return "feasible";
    case PlanStatus::kInfeasible: return "infeasible";
  }
  return "?";
}

namespace {

std::string Layers(int i, int j) {
  return j - i == 1 ? "layer " + std::to_string(i) : "layers " + std::to_string(i) + "-" + std::to_string(j - 1);
}

// Cheap checks that name the binding constraint; empty when none of them fires.
std::string DiagnoseInfeasible(const CompiledInstance& ci) {
  const PlanningInstance& in = ci.instance();
  const int n = ci.num_nodes(), L = ci.num_layers();
  double biggest = 0;
  for (const auto& nd : in.nodes) biggest = std::max(biggest, nd.memory_bytes);
  for (int l = 0; l < L; ++l)
    if (ci.Memory(l, l + 1) > biggest)
      return "memory: no node can hold " + Layers(l, l + 1) + " (needs " + BytesText(ci.Memory(l, l + 1)) + " bytes" +
             (ci.KvBytes(l, l + 1) > 0 ? ", " + BytesText(ci.KvBytes(l, l + 1)) + " of them KV reservation" : "") +
             ", the largest node has " + BytesText(biggest) + ")";
  const int p = ci.trusted_prefix();
  for (int l = 0; l < p; ++l) {
    bool ok = false;
    for (int v = 0; v < n && !ok; ++v) ok = ci.trusted(v) && ci.Memory(l, l + 1) <= in.nodes[v].memory_bytes;
    if (!ok) return "trusted_prefix_layers: no trusted node can hold " + Layers(l, std::min(p, L));
  }
  for (int v = 0; v < n; ++v) {
    if (ci.pin_lo(v) >= ci.pin_hi(v)) continue;
    const std::string nm = "constraints.pinned: node '" + ci.node_name(v) + "'";
    if (!ci.StartAllowed(v, ci.pin_lo(v))) return nm + " is not trusted but is pinned inside the trusted prefix";
    if (ci.MaxEnd(v, ci.pin_lo(v)) < ci.pin_hi(v)) {
      if (ci.Memory(ci.pin_lo(v), ci.pin_hi(v)) > in.nodes[v].memory_bytes)
        return nm + " cannot hold its pinned " + Layers(ci.pin_lo(v), ci.pin_hi(v)) + " (memory)";
      return nm + " has pinned layers around a layer pinned to another node (a node holds one stage)";
    }
  }
  const int need = MinStagesNeeded(ci);
  if (need > ci.max_stages())
    return need > L ? "memory/trust: the layers cannot be covered by stages that fit"
                    : (ci.max_stages() < n ? "max_stages: at least " + std::to_string(need) + " stages are needed to fit the model in memory, max_stages is " + std::to_string(ci.max_stages())
                                           : "nodes: at least " + std::to_string(need) + " stages are needed to fit the model in memory but only " + std::to_string(n) + " nodes exist");
  return "";
}

// The instance restricted to `nodes` (plus the source), links copied from the compiled
// matrices. Pins to nodes left out are dropped (plans violating them are rejected by the
// caller's PlanValue). Not for re-planning instances.
PlanningInstance SubInstance(const CompiledInstance& ci, const std::vector<int>& nodes) {
  const PlanningInstance& in = ci.instance();
  PlanningInstance sub;
  sub.model = in.model;
  sub.source = in.source;
  sub.objective = in.objective;
  sub.constraints.trusted_prefix_layers = in.constraints.trusted_prefix_layers;
  sub.constraints.max_stages = in.constraints.max_stages;
  sub.constraints.max_period_ms = in.constraints.max_period_ms;
  std::vector<int> keep = nodes;
  if (std::find(keep.begin(), keep.end(), ci.source()) == keep.end()) keep.push_back(ci.source());
  for (int v : keep) sub.nodes.push_back(in.nodes[v]);
  for (const auto& [layer, name] : in.constraints.pinned)
    if (std::find(keep.begin(), keep.end(), ci.NodeIndex(name)) != keep.end()) sub.constraints.pinned[layer] = name;
  for (int u : keep)
    for (int v : keep)
      if (u != v && ci.HasLink(u, v))
        sub.links.pairs.push_back({ci.node_name(u), ci.node_name(v),
                                   {8e-3 / ci.inv_bw_row(u)[v], ci.lat_row(u)[v]}, false});
  return sub;
}

// A complete search found nothing: what binds, naming the period cap when there is one.
std::string NoPlanReason(const CompiledInstance& ci) {
  std::string why = "no plan satisfies memory, trust, links, pins and max_stages with each node holding at most one stage";
  if (ci.period_cap() < kInf) why += " and every stage and hop within max_period_ms " + std::to_string(ci.period_cap()) + " ms";
  return why;
}

}  // namespace

PlanResult Plan(const PlanningInstance& in, const PlannerOptions& opt) {
  auto elapsed = [&] { return opt.elapsed_ms ? opt.elapsed_ms() : 0.0; };
  PlanResult r;
  r.objective = in.objective.kind;
  auto finish = [&]() -> PlanResult {
    r.solve_ms = elapsed();
    return r;
  };
  if (Status s = ValidateInstance(in); !s.ok()) {
    r.reason = s.message();
    r.lower_bound = kInf;
    return finish();
  }
  const CompiledInstance ci(in);
  if (std::string why = DiagnoseInfeasible(ci); !why.empty()) {
    r.reason = why;
    r.lower_bound = kInf;
    return finish();
  }
  const int n = ci.num_nodes(), L = ci.num_layers();
  std::vector<int> usable;
  for (int v = 0; v < n; ++v) {
    bool any = false;
    for (int i = 0; i < L && !any; ++i) any = ci.StartAllowed(v, i) && ci.MaxEnd(v, i) > i;
    if (any) usable.push_back(v);
  }
  const bool exact = static_cast<int>(usable.size()) <= std::min(opt.exact_max_nodes, kMaxDpNodes);
  // Under a period cap the relaxation is capped too: still a lower bound, and tighter.
  const RelaxedBounds rb = ComputeRelaxedBounds(ci, ci.period_cap());
  std::vector<double> through;  // filled lazily: only large instances not yet proved need it
  if (rb.lower_bound == kInf) {
    r.lower_bound = kInf;
    r.reason = "links: no chain of linked nodes that satisfies memory and trust carries the model from the source "
               "and back to it";
    if (ci.period_cap() < kInf)
      r.reason += " with every stage and hop within max_period_ms " + std::to_string(ci.period_cap()) + " ms";
    return finish();
  }
  // Without a clock the time limit still bounds the work: about 10k label operations per ms.
  const long long label_budget =
      opt.elapsed_ms ? opt.max_dp_labels
                     : std::min<long long>(opt.max_dp_labels, static_cast<long long>(opt.time_limit_ms * 10'000));
  auto dp_late = [&] { return opt.elapsed_ms && elapsed() > 0.55 * opt.time_limit_ms; };
  auto ls_late = [&] { return opt.elapsed_ms && elapsed() > 0.75 * opt.time_limit_ms; };

  // Incumbents.
  std::vector<IStage> best;
  double best_val = kInf;
  std::string how;
  auto offer = [&](const std::vector<IStage>& st, const char* what) {
    double v = PlanValue(ci, st);
    if (v < best_val) best_val = v, best = st, how = what;
  };
  offer(rb.relaxed_plan, "relaxation");
  offer(BestSingleNode(ci), "single node");
  offer(GreedyBaseline(ci), "greedy");
  offer(EvenSplitBaseline(ci), "even split");
  std::vector<IStage> current;
  double current_val = kInf;
  if (in.current_plan) {
    for (const auto& s : in.current_plan->stages) current.push_back({ci.NodeIndex(s.node), s.first_layer, s.end_layer});
    current_val = PlanValue(ci, current);
    offer(current, "current plan");
  }
  double lb = rb.lower_bound;
  auto proved = [&] { return best_val <= lb + 1e-9 * std::abs(lb); };
  bool optimal = proved();
  if (!optimal && !exact) {
    if (!opt.elapsed_ms || elapsed() < 0.3 * opt.time_limit_ms) {
      through = RankNodes(ci, rb);
    } else {
      // Short of time: rank by the best relaxed plan whose first stage is on the node, O(n).
      through.assign(n, kInf);
      const int src = ci.source();
      for (int w = 0; w < n; ++w)
        if (ci.HasLink(src, w))
          through[w] = ci.A() * ci.Transfer(src, w, ci.act(0)) + rb.at(rb.c_s, w, 0) +
                       ci.B() * std::max(ci.BwTime(src, w, ci.act(0)), rb.at(rb.c_m, w, 0));
    }
  }
  std::vector<int> order = usable;  // by the best relaxed plan through each node
  if (!through.empty())
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return through[a] < through[b]; });
  const std::vector<int> pool(order.begin(), order.begin() + std::min<size_t>(order.size(), 48));
  auto polish = [&](int max_rounds) {
    if (optimal || best.empty()) return;
    LocalSearchOptions lo;
    lo.max_rounds = max_rounds;
    lo.out_of_time = ls_late;
    if (!exact) lo.split_pool = pool;
    offer(ImprovePlan(ci, best, lo), "local search");
    optimal = proved();
  };
  // A tight incumbent makes the exact searches prune harder: polish the constructions first.
  polish(opt.local_search_rounds);

  const bool pure_period = ci.s_trivial();
  double m_floor = 0;
  if (!optimal && exact && ci.B() > 0) {
    // Exact minimum period over all usable nodes: the answer for the period objective, a floor
    // on the period part of the mixed one. A plan beating the incumbent has M <= upper.
    const double lower = std::max(rb.m_lb, rb.fluid_m_lb) * (1 - 1e-12);
    const double upper = std::min(ci.period_cap(), best.empty() ? kInf : (best_val - rb.s_lb) / ci.B() * (1 + 1e-12));
    const PeriodResult pr = SolveMinPeriod(ci, usable, lower, upper, dp_late);
    if (pr.complete) {
      if (pr.feasible) {
        offer(pr.stages, "period threshold search");
        m_floor = pr.period;
        lb = std::max(lb, rb.s_lb + ci.B() * m_floor);
        if (pure_period) optimal = true;
      } else if (!best.empty()) {
        optimal = true;  // no plan has a period small enough to beat the incumbent
      } else {
        r.reason = NoPlanReason(ci);
        r.lower_bound = kInf;
        return finish();
      }
      optimal = optimal || proved();
    }
  }
  if (!optimal && exact && ci.B() > 0 && !pure_period) {
    DpOptions o;
    o.max_labels = label_budget;
    o.out_of_time = dp_late;
    const ThresholdSearchResult ts = SolveByPeriodThresholds(
        ci, rb, usable, m_floor, best_val,
        [&](const std::vector<IStage>& st) {
          offer(st, "threshold DP");
          return best_val;
        },
        o);
    const bool complete = ts.complete;
    if (!complete) lb = std::max(lb, std::min(best_val, ts.lower_bound));
    if (complete) {
      optimal = true;
      if (best.empty()) {
        r.reason = NoPlanReason(ci);
        r.lower_bound = kInf;
        return finish();
      }
    } else {
      polish(opt.local_search_rounds);
    }
  } else if (!optimal && exact) {
    DpOptions o;
    o.max_labels = label_budget;
    o.out_of_time = dp_late;
    o.m_floor = m_floor;
    o.m_cap = ci.period_cap();
    DpResult d = SolveDp(ci, rb, usable, best_val, o);
    if (d.improved) offer(d.stages, "exact DP");
    optimal = d.complete;
    if (d.complete && best.empty()) {
      r.reason = NoPlanReason(ci);
      r.lower_bound = kInf;
      return finish();
    }
    polish(opt.local_search_rounds);
  } else if (!optimal) {
    // Candidate pruning: the beam DP (or, for period, the exact threshold search) over the
    // best-ranked nodes plus the incumbent's and the pinned ones, then local search over all
    // nodes; later rounds swap in nodes not tried yet.
    const int m = std::clamp(opt.candidate_nodes, 1, kMaxDpNodes);
    std::vector<char> tried(n, 0);
    const int rounds = opt.elapsed_ms ? 8 : 3;
    // Neighbourhood seeds: the relaxed optimum's nodes (good even when the ranking had to be
    // the cheap one), then by rank.
    std::vector<int> seeds;
    for (const auto& x : rb.relaxed_plan)
      if (std::find(seeds.begin(), seeds.end(), x.node) == seeds.end()) seeds.push_back(x.node);
    for (int v : order)
      if (seeds.size() < 8 && std::find(seeds.begin(), seeds.end(), v) == seeds.end()) seeds.push_back(v);
    for (int round = 0; round < rounds && !optimal; ++round) {
      const bool neighbourhood = round % 2 == 0;  // first: well-linked groups matter most for period
      std::vector<int> cand;
      auto add = [&](int v) {
        if (static_cast<int>(cand.size()) < m && std::find(cand.begin(), cand.end(), v) == cand.end()) cand.push_back(v);
      };
      for (int v = 0; v < n; ++v)
        if (ci.pin_lo(v) < ci.pin_hi(v)) add(v);
      if (!neighbourhood)
        for (const auto& x : best) add(x.node);
      if (ci.trusted_prefix() > 0) {
        int t = 0;
        for (int v : order)
          if (ci.trusted(v) && t < 2) add(v), ++t;
      }
      if (neighbourhood && static_cast<int>(seeds.size()) > round / 2) {
        // A neighbourhood: a promising node and the nodes best linked to it, so a
        // well-connected group (a site) can be searched as a whole, fastest first on ties.
        const int seed = seeds[round / 2];
        double amin = kInf;
        for (int j = 1; j < L; ++j) amin = std::min(amin, ci.act(j));
        if (amin == kInf) amin = 0;
        std::vector<std::pair<double, int>> near;
        for (int v : usable) {
          if (v == seed || !ci.HasLink(seed, v) || !ci.HasLink(v, seed)) continue;
          near.push_back({ci.BwTime(seed, v, amin) + ci.BwTime(v, seed, amin) + ci.Compute(v, 0, L) / L, v});
        }
        std::sort(near.begin(), near.end());
        add(seed);
        for (const auto& [score, v] : near) add(v);
      }
      for (int v : order)
        if (round == 0 || !tried[v]) add(v);
      for (int v : cand) tried[v] = 1;
      std::sort(cand.begin(), cand.end());
      if (pure_period) {
        const PeriodResult pr = SolveMinPeriod(ci, cand, std::max(rb.m_lb, rb.fluid_m_lb) * (1 - 1e-12),
                                               std::min(ci.period_cap(), best_val), dp_late);
        if (pr.feasible) offer(pr.stages, "period threshold search");
      } else if (ci.B() > 0 && !in.migration) {
        // Mixed: solve the candidates' sub-instance exactly (threshold branch and bound) with
        // the same clock and deadlines; its plan is valid here too.
        PlannerOptions so = opt;
        so.exact_max_nodes = kMaxDpNodes;
        so.max_dp_labels = label_budget;
        const PlanResult sr = Plan(SubInstance(ci, cand), so);
        std::vector<IStage> st;
        for (const auto& x : sr.stages) st.push_back({ci.NodeIndex(x.node), x.first_layer, x.end_layer});
        if (sr.status != PlanStatus::kInfeasible) offer(st, "exact search over candidates");
      } else {
        DpOptions o;
        o.beam_width = opt.beam_width;
        o.max_labels = label_budget;
        o.out_of_time = dp_late;
        o.m_cap = ci.period_cap();
        DpResult d = SolveDp(ci, rb, cand, best_val, o);
        if (d.improved) offer(d.stages, "beam DP");
      }
      polish(3);  // a quick polish per round; the full one follows the rounds
      optimal = optimal || proved();
      if (!opt.elapsed_ms || dp_late()) break;
    }
    polish(opt.local_search_rounds);
    if (!optimal && ci.B() > 0 && !pure_period && n <= 200 && !best.empty() && !ls_late()) {
      // Tighten the mixed bound: S and M are bounded jointly over a grid of period caps.
      const double m_lo = std::max(rb.m_lb, rb.fluid_m_lb);
      const double m_hi = std::min(ci.period_cap(), (best_val - rb.s_lb) / ci.B() * (1 + 1e-12));
      lb = std::max(lb, PeriodGridBound(ci, m_lo, m_hi, best_val, 8));
      optimal = proved();
    }
  }
  if (best.empty()) {
    r.reason = "no feasible plan found within the time limit (not proven infeasible)";
    r.lower_bound = lb;
    return finish();
  }
  // Re-planning: keep the current plan unless the new one is strictly better.
  if (current_val < kInf && current_val <= best_val * (1 + 1e-9)) {
    best = current, best_val = current_val, r.kept_current = true, how = "current plan";
  }
  const PlanCost c = ci.EvaluateIndex(best);
  r.status = optimal ? PlanStatus::kOptimal : PlanStatus::kFeasible;
  r.value = c.value;
  r.latency_ms = c.latency_ms;
  r.period_ms = c.period_ms;
  r.migration_ms = c.migration_ms;
  r.lower_bound = optimal ? c.value : std::min(lb, c.value);
  r.stages = ci.ToNamed(best);
  r.reason = (optimal ? "optimal by " : "best of ") + how;
  return finish();
}

}  // namespace edgesplit::planner
