// `edgesplit-bench planner [--json] [--seeds N] [--large-seeds N] [--time-limit-ms N]
//   [--families a,b] [--nodes 4,8,...] [--layers 12,48,96] [--objectives latency,period,mixed]`
// Solves the instance families (PipeEdge-like, low bandwidth, clustered sites, trusted
// prefix) with the planner and two baselines (even split over the k fastest nodes, greedy) and
// reports per (family, n, L, objective): solve time median/max, the gap to the exact optimum
// where the planner proved it and to the lower bound elsewhere, and baseline/planner ratios.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

#include "common/base/flags.h"
#include "common/base/subcommand.h"
#include "orchestrator/planner/heuristic_solver.h"
#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/planner.h"

namespace edgesplit {
namespace {

using namespace planner;
using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point a) { return std::chrono::duration<double, std::milli>(Clock::now() - a).count(); }

// CPU time of this thread: on a shared machine wall time also counts waiting for a core.
double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}
double Max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

std::string J(double x) {
  if (!std::isfinite(x)) return "null";
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", x);
  return b;
}

Result<std::vector<int>> Ints(const std::string& s) {
  std::vector<int> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      out.push_back(std::stoi(item));
    } catch (...) {
      return InvalidArgument("'" + item + "' is not an integer");
    }
  }
  return out;
}

std::vector<std::string> Words(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(item);
  return out;
}

struct Series {
  std::vector<double> ms, cpu_ms, gap;  // gap: value / reference - 1
  int failed = 0;  // planner: answered "infeasible"; baseline: found no feasible plan
};

std::string SeriesJson(const Series& s) {
  return "{\"median_ms\": " + J(Median(s.ms)) + ", \"max_ms\": " + J(Max(s.ms)) + ", \"cpu_median_ms\": " +
         J(Median(s.cpu_ms)) + ", \"cpu_max_ms\": " + J(Max(s.cpu_ms)) + ", \"gap_median\": " +
         J(Median(s.gap)) + ", \"gap_max\": " + J(Max(s.gap)) + ", \"failed\": " + std::to_string(s.failed) + "}";
}

int BenchPlanner(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"seeds", "large-seeds", "time-limit-ms", "families", "nodes", "layers", "objectives"},
                        {"json"});
  if (!f.ok()) {
    std::fprintf(stderr, "edgesplit-bench planner: %s\n", f.status().message().c_str());
    return 2;
  }
  const int seeds = static_cast<int>(f->GetInt("seeds", 3).ok() ? *f->GetInt("seeds", 3) : 3);
  const int large_seeds = static_cast<int>(f->GetInt("large-seeds", 1).ok() ? *f->GetInt("large-seeds", 1) : 1);
  const double limit = f->GetDouble("time-limit-ms", 1000).ok() ? *f->GetDouble("time-limit-ms", 1000) : 1000;
  auto nodes = Ints(f->Get("nodes", "4,8,12,16,100,1000"));
  auto layers = Ints(f->Get("layers", "12,48,96"));
  if (!nodes.ok() || !layers.ok()) {
    std::fprintf(stderr, "edgesplit-bench planner: --nodes/--layers take comma-separated integers\n");
    return 2;
  }
  std::vector<Family> families;
  for (const auto& w : Words(f->Get("families", "pipeedge,low_bandwidth,clustered,trusted"))) {
    bool ok = false;
    for (Family x : {Family::kPipeEdge, Family::kLowBandwidth, Family::kClustered, Family::kTrusted})
      if (w == FamilyName(x)) families.push_back(x), ok = true;
    if (!ok) {
      std::fprintf(stderr, "edgesplit-bench planner: unknown family '%s'\n", w.c_str());
      return 2;
    }
  }
  std::vector<ObjectiveKind> objectives;
  for (const auto& w : Words(f->Get("objectives", "latency,period,mixed"))) {
    auto k = ParseObjectiveKind(w);
    if (!k.ok()) {
      std::fprintf(stderr, "edgesplit-bench planner: %s\n", k.status().message().c_str());
      return 2;
    }
    objectives.push_back(*k);
  }
  const bool json = f->GetBool("json");
  std::vector<std::string> rows;
  // Target tracking (issue 3).
  std::vector<double> exact_12_48_ms, exact_12_48_cpu;
  double large_latency_max_ms = 0, large_latency_max_cpu = 0, large_latency_max_gap = 0, max_ms_any = 0;
  int worse_than_baseline = 0, configs = 0, optimal_runs = 0, runs_total = 0;
  for (Family fam : families)
    for (int n : *nodes)
      for (int L : *layers)
        for (ObjectiveKind obj : objectives) {
          const int runs = n >= 1000 ? large_seeds : seeds;
          Series planner_s, even_s, greedy_s;
          std::vector<double> lb_gap, even_ratio, greedy_ratio;
          int optimal = 0;
          for (int seed = 1; seed <= runs; ++seed) {
            const PlanningInstance in = FamilyInstance(fam, n, L, seed, obj);
            PlannerOptions o;
            o.time_limit_ms = limit;
            const auto t0 = Clock::now();
            o.elapsed_ms = [t0] { return Ms(t0); };
            const double c0 = CpuMs();
            const PlanResult r = Plan(in, o);
            const double ms = Ms(t0), cpu = CpuMs() - c0;
            max_ms_any = std::max(max_ms_any, ms);
            ++runs_total;
            if (r.status == PlanStatus::kInfeasible) {
              ++planner_s.failed;
              continue;
            }
            planner_s.ms.push_back(ms);
            planner_s.cpu_ms.push_back(cpu);
            optimal += r.status == PlanStatus::kOptimal;
            // Reference: the proven optimum when known, else the lower bound.
            const double ref = r.status == PlanStatus::kOptimal ? r.value : r.lower_bound;
            planner_s.gap.push_back(ref > 0 ? r.value / ref - 1 : 0);
            lb_gap.push_back(r.lower_bound > 0 ? r.value / r.lower_bound - 1 : 0);
            const CompiledInstance ci(in);
            auto base = [&](auto fn, Series& s, std::vector<double>& ratio) {
              const auto b0 = Clock::now();
              const double bc0 = CpuMs();
              const auto st = fn(ci);
              const double bms = Ms(b0), bcpu = CpuMs() - bc0;
              const PlanCost c = ci.EvaluateIndex(st);
              if (st.empty() || !c.feasible) {
                ++s.failed;
                return;
              }
              s.ms.push_back(bms);
              s.cpu_ms.push_back(bcpu);
              s.gap.push_back(ref > 0 ? c.value / ref - 1 : 0);
              ratio.push_back(r.value > 0 ? c.value / r.value : 1);
              if (c.value < r.value * (1 - 1e-9)) ++worse_than_baseline;
            };
            base(EvenSplitBaseline, even_s, even_ratio);
            base(GreedyBaseline, greedy_s, greedy_ratio);
            if (n == 12 && L == 48) exact_12_48_ms.push_back(ms), exact_12_48_cpu.push_back(cpu);
            if (n >= 1000 && L == 96 && obj == ObjectiveKind::kLatency) {
              large_latency_max_ms = std::max(large_latency_max_ms, ms);
              large_latency_max_cpu = std::max(large_latency_max_cpu, cpu);
              large_latency_max_gap = std::max(large_latency_max_gap, lb_gap.back());
            }
          }
          optimal_runs += optimal;
          ++configs;
          std::string row = "{\"family\": \"" + std::string(FamilyName(fam)) + "\", \"n\": " + std::to_string(n) +
                            ", \"L\": " + std::to_string(L) + ", \"objective\": \"" + ObjectiveKindName(obj) +
                            "\", \"runs\": " + std::to_string(runs) + ", \"optimal\": " + std::to_string(optimal) +
                            ", \"planner\": " + SeriesJson(planner_s) + ", \"planner_gap_to_lower_bound_max\": " +
                            J(Max(lb_gap)) + ", \"even_split\": " + SeriesJson(even_s) + ", \"greedy\": " +
                            SeriesJson(greedy_s) + ", \"even_split_over_planner_median\": " + J(Median(even_ratio)) +
                            ", \"greedy_over_planner_median\": " + J(Median(greedy_ratio)) +
                            ", \"greedy_over_planner_max\": " + J(Max(greedy_ratio)) + "}";
          rows.push_back(row);
          if (!json)
            std::fprintf(stderr, "%-13s n=%-4d L=%-3d %-7s planner med %.1f ms max %.1f ms cpu max %.1f gap %.4f (opt %d/%d) | even x%.2f greedy x%.2f\n",
                         FamilyName(fam), n, L, ObjectiveKindName(obj), Median(planner_s.ms), Max(planner_s.ms), Max(planner_s.cpu_ms),
                         Max(planner_s.gap), optimal, runs, Median(even_ratio), Median(greedy_ratio));
        }
  std::string out = "{\"bench\": \"planner\", \"time_limit_ms\": " + J(limit) + ", \"configs\": " +
                    std::to_string(configs) + ", \"runs\": " + std::to_string(runs_total) +
                    ", \"optimal_runs\": " + std::to_string(optimal_runs) + ", \"targets\": {\"exact_n12_L48_median_ms\": " +
                    J(Median(exact_12_48_ms)) + ", \"exact_n12_L48_cpu_median_ms\": " + J(Median(exact_12_48_cpu)) +
                    ", \"n1000_L96_latency_max_ms\": " + J(large_latency_max_ms) +
                    ", \"n1000_L96_latency_max_cpu_ms\": " + J(large_latency_max_cpu) +
                    ", \"max_solve_ms_any\": " + J(max_ms_any) +
                    ", \"n1000_L96_latency_max_gap_to_lower_bound\": " + J(large_latency_max_gap) +
                    ", \"runs_worse_than_a_baseline\": " + std::to_string(worse_than_baseline) + "}, \"results\": [";
  for (size_t i = 0; i < rows.size(); ++i) out += (i ? ",\n  " : "\n  ") + rows[i];
  out += "\n]}";
  std::printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

ES_REGISTER_SUBCOMMAND(planner, "planner", "planner: families x sizes vs baselines (JSON)", BenchPlanner);

}  // namespace edgesplit
