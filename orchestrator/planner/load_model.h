// Plans under load: the utilisation term of the latency objective (DESIGN.md "Planning problem").
//
// A plan's latency is what one pass costs on an idle pipeline. Under traffic, every pass uses
// each stage's compute and each hop's bandwidth in turn, so at `passes_per_s` a resource with
// service time s ms is busy rho = rate * s / 1000 of the time, and a pass waits there on average
// rho * s / (2 (1 - rho)) ms (M/D/1: Poisson arrivals, deterministic service). The response
// time is the latency plus those waits. A latency-optimal plan can put every layer on one node
// and saturate it (rho >= 1: the queue grows without bound) while a split would serve.
//
// PlanForLoad minimises the response time over a ladder of candidates the exact planner
// produces: the latency-optimal plan, the latency-optimal plans with every stage and hop under
// utilisation caps (constraints.max_period_ms = cap * 1000 / rate), and the minimum-period plan.
// It is a heuristic over exact sub-solutions: each candidate is optimal for its cap, the choice
// among them is by the response model. Pure, no I/O.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orchestrator/planner/cost_model.h"
#include "orchestrator/planner/planner.h"

namespace edgesplit::planner {

// Utilisation at which the waiting model saturates: a resource at or above it is priced as if
// at it (a finite, very large wait), so plans that overload stay comparable by how much.
constexpr double kSaturatedUtilisation = 0.98;

// Mean M/D/1 wait (ms) at a resource with service time `service_ms` and `passes_per_s` arrivals.
double WaitMs(double service_ms, double passes_per_s);

struct LoadedCost {
  bool feasible = false;
  std::string violation;
  double latency_ms = kInf;   // idle pipeline
  double wait_ms = kInf;      // summed over stages and hops
  double response_ms = kInf;  // latency + wait
  double utilisation = kInf;  // of the busiest resource (may exceed 1)
};

// Prices `stages` under `instance` at `passes_per_s` (0: the latency, no waits).
LoadedCost EvaluateLoaded(const PlanningInstance& instance, const std::vector<Stage>& stages, double passes_per_s);

struct LoadedPlan {
  PlanResult plan;          // the chosen candidate (latency objective, or as planned otherwise)
  LoadedCost cost;          // its price under load
  double period_cap_ms = 0; // the cap it was planned under (0: none)
  std::string why;          // which candidate won, for decision reasons
};

// For the latency objective with passes_per_s > 0: the candidate with the least response time
// (ties: the lower latency). Caps are fractions of the rate's inter-arrival time, at most
// `max_utilisation` (0 < max_utilisation < 1). Other objectives, or no load: Plan(instance)
// priced by EvaluateLoaded. `options` gives each Plan() call its own planner options (deadline).
LoadedPlan PlanForLoad(const PlanningInstance& instance, const std::function<PlannerOptions()>& options,
                       double passes_per_s, double max_utilisation);

// `instance` with constraints.max_period_ms set to cap_ms (0: none).
PlanningInstance WithPeriodCap(PlanningInstance instance, double cap_ms);

}  // namespace edgesplit::planner
