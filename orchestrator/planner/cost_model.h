// The cost model of DESIGN.md ("Planning problem"): transfer, compute, latency, period, mixed,
// memory, trust, pins and the re-planning migration term. Evaluate() prices any plan (the
// orchestrator uses it for the current plan); CompiledInstance is the index-based form the
// solvers share (prefix sums, link matrices), built once per Plan() call. Pure, no I/O.
#pragma once

#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/base/status.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::planner {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The price of one plan under an instance.
struct PlanCost {
  bool feasible = false;
  std::string violation;     // first violated constraint when !feasible, naming it
  double latency_ms = kInf;
  double period_ms = kInf;
  double migration_ms = 0;   // total weight fetch time (not amortised); 0 without re-planning
  double value = kInf;       // objective value, including the amortised migration term
};

// Prices `stages` (node names) under `instance`. Structural errors in the stages themselves
// (unknown node, ranges not covering the model in order) are reported as infeasible with a
// violation message, never as crashes.
PlanCost Evaluate(const PlanningInstance& instance, const std::vector<Stage>& stages);

// Index form of a stage, used inside the solvers.
struct IStage {
  int node = 0;
  int first = 0;
  int end = 0;
  bool operator==(const IStage&) const = default;
};

// A byte count for messages: the integer when it fits in 64 bits, else "6.2e+20" (a cast of a
// larger double to an integer is undefined; found by fuzz_instance).
std::string BytesText(double bytes);

// Index form of an instance. The objective is value = S + B * M where S sums
// A*(transfers + compute) + amortised migration and M is the largest stage/bandwidth term
// (latency: A=1,B=0; period: A=0,B=1; mixed: A=alpha,B=beta).
class CompiledInstance {
 public:
  // Requires ValidateInstance(instance).ok().
  explicit CompiledInstance(const PlanningInstance& instance);

  int num_nodes() const { return n_; }
  int num_layers() const { return L_; }
  int source() const { return src_; }
  double A() const { return A_; }
  double B() const { return B_; }
  bool has_migration() const { return has_mig_; }
  // True when no S term exists (pure period without migration): labels are 1-D in M.
  bool s_trivial() const { return A_ == 0 && !has_mig_; }
  const PlanningInstance& instance() const { return *inst_; }
  const std::string& node_name(int v) const;
  int NodeIndex(const std::string& name) const;  // -1 if unknown

  double act(int j) const { return act_[j]; }  // bytes entering layer j (j==L: model output)
  double Compute(int v, int i, int j) const { return cp_[v * (L_ + 1) + j] - cp_[v * (L_ + 1) + i]; }
  double LayerTime(int v, int l) const { return Compute(v, l, l + 1); }
  bool HasLink(int u, int v) const { return u == v || inv_bw_[u * n_ + v] < kInf; }
  // transfer(u->v, bytes) and its bandwidth-only part; kInf without a link, 0 when u == v.
  double Transfer(int u, int v, double bytes) const {
    return u == v ? 0.0 : lat_[u * n_ + v] + bytes * inv_bw_[u * n_ + v];
  }
  double BwTime(int u, int v, double bytes) const { return u == v ? 0.0 : bytes * inv_bw_[u * n_ + v]; }
  // Rows of the link matrices (kInf without a link; 0 on the diagonal), for tight loops.
  const double* lat_row(int u) const { return &lat_[u * n_]; }
  const double* inv_bw_row(int u) const { return &inv_bw_[u * n_]; }
  // Columns (transfers into v from every u), stored contiguously for vectorised loops.
  const double* lat_col(int v) const { return &lat_t_[v * n_]; }
  const double* inv_bw_col(int v) const { return &inv_bw_t_[v * n_]; }
  // Bytes a stage [i,j) needs: params + 2 x largest activation + its KV reservation.
  double Memory(int i, int j) const;
  double KvBytes(int i, int j) const { return kv_prefix_[j] - kv_prefix_[i]; }  // reservation part
  // " (needs N bytes[, K of them KV reservation])" for memory messages.
  std::string NeedsBytes(int i, int j) const;
  // Largest end e such that [i, e) on v satisfies memory and no layer in it is pinned to
  // another node; i itself when v cannot hold layer i. Trust is separate (StartAllowed).
  int MaxEnd(int v, int i) const { return max_end_[v * (L_ + 1) + i]; }
  bool StartAllowed(int v, int i) const { return i >= prefix_ || trusted_[v]; }
  bool trusted(int v) const { return trusted_[v]; }
  int trusted_prefix() const { return prefix_; }
  int max_stages() const { return max_stages_; }
  // constraints.max_period_ms, kInf without a cap: every stage and hop term must be <= it.
  double period_cap() const { return cap_; }
  // Pins of v: every stage on v must contain [pin_lo, pin_hi) (empty when v has no pin).
  int pin_lo(int v) const { return pin_lo_[v]; }
  int pin_hi(int v) const { return pin_hi_[v]; }
  bool has_pins() const { return any_pin_; }
  // Whether stage [i,j) on v is valid on its own (memory, trust, pins, non-empty).
  bool StageValid(int v, int i, int j) const {
    return i < j && j <= MaxEnd(v, i) && StartAllowed(v, i) && (pin_lo_[v] >= pin_hi_[v] || (i <= pin_lo_[v] && j >= pin_hi_[v]));
  }
  // Amortised migration cost (ms per request) of holding [i,j) on v.
  double Migration(int v, int i, int j) const {
    return has_mig_ ? (mig_[v * (L_ + 1) + j] - mig_[v * (L_ + 1) + i]) : 0.0;
  }
  // Unamortised fetch time (ms) of the weights of [i,j) that v does not hold.
  double FetchMs(int v, int i, int j) const { return Migration(v, i, j) * horizon_; }

  // Full evaluation of an index plan (no structural checks beyond feasibility of each stage).
  PlanCost EvaluateIndex(const std::vector<IStage>& stages) const;
  std::vector<Stage> ToNamed(const std::vector<IStage>& stages) const;

 private:
  const PlanningInstance* inst_;
  int n_ = 0, L_ = 0, src_ = 0, prefix_ = 0, max_stages_ = 0;
  double A_ = 1, B_ = 0, horizon_ = 1, cap_ = kInf;
  bool has_mig_ = false, any_pin_ = false;
  std::vector<double> act_, cp_, param_prefix_, kv_prefix_, lat_, inv_bw_, lat_t_, inv_bw_t_, mig_;
  std::unordered_map<std::string, int> index_;
  std::vector<int> max_end_, pin_lo_, pin_hi_;
  std::vector<bool> trusted_;
};

}  // namespace edgesplit::planner
