#include "orchestrator/planner/load_model.h"

#include <algorithm>
#include <cmath>

namespace edgesplit::planner {

double WaitMs(double service_ms, double passes_per_s) {
  if (!(service_ms > 0) || !(passes_per_s > 0)) return 0;
  const double rho = std::min(kSaturatedUtilisation, passes_per_s * service_ms / 1000.0);
  return rho * service_ms / (2 * (1 - rho));
}

PlanningInstance WithPeriodCap(PlanningInstance instance, double cap_ms) {
  instance.constraints.max_period_ms = cap_ms > 0 ? cap_ms : 0;
  return instance;
}

LoadedCost EvaluateLoaded(const PlanningInstance& instance, const std::vector<Stage>& stages, double passes_per_s) {
  LoadedCost out;
  // The price of the plan whatever it was planned under: the cap is not a property of the plan.
  const PlanningInstance in = WithPeriodCap(instance, 0);
  if (Status s = ValidateInstance(in); !s.ok()) {
    out.violation = s.message();
    return out;
  }
  const CompiledInstance ci(in);  // once: this runs for every candidate of every evaluation
  std::vector<IStage> st;
  for (const auto& s : stages) {
    const int v = ci.NodeIndex(s.node);
    if (v < 0) {
      out.violation = "unknown node '" + s.node + "' in plan";
      return out;
    }
    st.push_back({v, s.first_layer, s.end_layer});
  }
  const PlanCost base = ci.EvaluateIndex(st);
  if (!base.feasible) {
    out.violation = base.violation;
    return out;
  }
  const double rate = passes_per_s > 0 ? passes_per_s : 0;
  double wait = 0, busiest = 0;
  auto serve = [&](double service_ms) {
    wait += WaitMs(service_ms, rate);
    busiest = std::max(busiest, rate * service_ms / 1000.0);
  };
  int prev = ci.source();
  for (const auto& x : st) {
    serve(ci.BwTime(prev, x.node, ci.act(x.first)));
    serve(ci.Compute(x.node, x.first, x.end));
    prev = x.node;
  }
  serve(ci.BwTime(prev, ci.source(), ci.act(ci.num_layers())));
  out.feasible = true;
  out.latency_ms = base.latency_ms;
  out.wait_ms = wait;
  out.response_ms = base.latency_ms + wait;
  out.utilisation = busiest;
  return out;
}

LoadedPlan PlanForLoad(const PlanningInstance& in, const std::function<PlannerOptions()>& options, double passes_per_s,
                       double max_utilisation) {
  LoadedPlan best;
  best.plan = Plan(in, options());
  if (best.plan.status == PlanStatus::kInfeasible) return best;
  best.cost = EvaluateLoaded(in, best.plan.stages, passes_per_s);
  best.why = "latency-optimal";
  if (in.objective.kind != ObjectiveKind::kLatency || !(passes_per_s > 0) || !best.cost.feasible) return best;
  // Fractions of the inter-arrival time each stage and hop may take; below the lowest the waits
  // are a small part of the response (a third of the busiest stage at most), so a lightly
  // loaded pipeline costs one planner call.
  static constexpr double kLadder[] = {0.4, 0.55, 0.7, 0.85};
  if (best.cost.utilisation < kLadder[0]) return best;
  auto consider = [&](PlanResult r, double cap, std::string why) {
    if (r.status == PlanStatus::kInfeasible) return;
    const LoadedCost c = EvaluateLoaded(in, r.stages, passes_per_s);
    if (!c.feasible) return;
    const bool tie = std::abs(c.response_ms - best.cost.response_ms) <= 1e-9 * std::max(1.0, best.cost.response_ms);
    if (c.response_ms < best.cost.response_ms && !tie) {
      best = {std::move(r), c, cap, std::move(why)};
    } else if (tie && c.latency_ms < best.cost.latency_ms) {
      best = {std::move(r), c, cap, std::move(why)};
    }
  };
  const double free_period = best.plan.period_ms;
  std::vector<double> fractions;
  for (double f : kLadder)
    if (f < max_utilisation) fractions.push_back(f);
  fractions.push_back(max_utilisation);
  for (double f : fractions) {
    const double cap = f * 1000.0 / passes_per_s;
    if (cap >= free_period) continue;  // the latency-optimal plan is within it already
    consider(Plan(WithPeriodCap(in, cap), options()), cap,
             "latency-optimal with every stage and hop under " + std::to_string(static_cast<int>(f * 100 + 0.5)) +
                 " % utilisation");
  }
  PlanningInstance throughput = in;
  throughput.objective = {ObjectiveKind::kPeriod, 1, 1};
  consider(Plan(throughput, options()), 0, "minimum-period plan");
  return best;
}

}  // namespace edgesplit::planner
