#include "orchestrator/planner/assignment.h"

#include <algorithm>
#include <string>

namespace edgesplit::planner {
namespace {

class Search {
 public:
  Search(const CompiledInstance& ci, const std::vector<std::pair<int, int>>& ranges, long long budget)
      : ci_(ci), ranges_(ranges), budget_(budget), k_(static_cast<int>(ranges.size())) {
    // Per stage: the nodes that can hold its range on their own, cheapest compute first, and
    // the cheapest compute/migration any of them offers (the bound's "still to pay" terms).
    cands_.resize(k_);
    min_comp_.assign(k_, kInf);
    min_mig_.assign(k_, kInf);
    for (int s = 0; s < k_; ++s) {
      // Plain locals, not a structured binding: the lambda below captures them, which clang
      // before 16 refuses (the fuzz build compiles with clang-14).
      const int i = ranges_[s].first, j = ranges_[s].second;
      for (int v = 0; v < ci_.num_nodes(); ++v) {
        if (!ci_.StageValid(v, i, j)) continue;
        cands_[s].push_back(v);
        min_comp_[s] = std::min(min_comp_[s], ci_.Compute(v, i, j));
        min_mig_[s] = std::min(min_mig_[s], ci_.Migration(v, i, j));
      }
      std::stable_sort(cands_[s].begin(), cands_[s].end(),
                       [&](int a, int b) { return ci_.Compute(a, i, j) < ci_.Compute(b, i, j); });
    }
    rest_sum_.assign(k_ + 1, 0);
    rest_max_.assign(k_ + 1, 0);
    rest_mig_.assign(k_ + 1, 0);
    for (int s = k_ - 1; s >= 0; --s) {
      rest_sum_[s] = rest_sum_[s + 1] + min_comp_[s];
      rest_max_[s] = std::max(rest_max_[s + 1], min_comp_[s]);
      rest_mig_[s] = rest_mig_[s + 1] + min_mig_[s];
    }
  }

  // Index of the first stage no node can hold, or -1.
  int EmptyStage() const {
    for (int s = 0; s < k_; ++s)
      if (cands_[s].empty()) return s;
    return -1;
  }
  double RootBound() const { return Bound(0, 0, 0, 0); }

  void Run() {
    used_.assign(ci_.num_nodes(), 0);
    st_.clear();
    Dfs(0, ci_.source(), 0, 0, 0);
  }

  bool complete() const { return !out_of_budget_; }
  double best_value() const { return best_val_; }
  const std::vector<IStage>& best() const { return best_; }

 private:
  double Bound(int s, double lat, double per, double mig) const {
    return ci_.A() * (lat + rest_sum_[s]) + ci_.B() * std::max(per, rest_max_[s]) + mig + rest_mig_[s];
  }

  void Dfs(int s, int prev, double lat, double per, double mig) {
    if (s == k_) {
      PlanCost c = ci_.EvaluateIndex(st_);
      if (c.feasible && c.value < best_val_) best_val_ = c.value, best_ = st_;
      return;
    }
    const auto [i, j] = ranges_[s];
    for (int v : cands_[s]) {
      if (used_[v] || !ci_.HasLink(prev, v)) continue;
      if (++expansions_ > budget_) {
        out_of_budget_ = true;
        return;
      }
      const double comp = ci_.Compute(v, i, j);
      const double l2 = lat + ci_.Transfer(prev, v, ci_.act(i)) + comp;
      const double p2 = std::max({per, ci_.BwTime(prev, v, ci_.act(i)), comp});
      const double m2 = mig + ci_.Migration(v, i, j);
      // The later stages' own terms (rest_*[s + 1]) are still owed.
      if (p2 > ci_.period_cap() || Bound(s + 1, l2, p2, m2) >= best_val_) continue;
      used_[v] = 1;
      st_.push_back({v, i, j});
      Dfs(s + 1, v, l2, p2, m2);
      st_.pop_back();
      used_[v] = 0;
      if (out_of_budget_) return;
    }
  }

  const CompiledInstance& ci_;
  const std::vector<std::pair<int, int>>& ranges_;
  const long long budget_;
  const int k_;
  std::vector<std::vector<int>> cands_;
  std::vector<double> min_comp_, min_mig_, rest_sum_, rest_max_, rest_mig_;
  std::vector<char> used_;
  std::vector<IStage> st_, best_;
  double best_val_ = kInf;
  long long expansions_ = 0;
  bool out_of_budget_ = false;
};

std::string RangeText(int i, int j) { return std::to_string(i) + "-" + std::to_string(j - 1); }

}  // namespace

std::vector<std::pair<int, int>> RangesOf(const std::vector<Stage>& stages) {
  std::vector<std::pair<int, int>> out;
  for (const auto& s : stages) out.emplace_back(s.first_layer, s.end_layer);
  return out;
}

PlanResult AssignNodes(const PlanningInstance& instance, const std::vector<std::pair<int, int>>& ranges,
                       const AssignmentOptions& options) {
  PlanResult r;
  r.objective = instance.objective.kind;
  r.lower_bound = kInf;
  if (Status s = ValidateInstance(instance); !s.ok()) {
    r.reason = s.message();
    return r;
  }
  const CompiledInstance ci(instance);
  int next = 0;
  for (const auto& [i, j] : ranges) {
    if (i != next || j <= i || j > ci.num_layers()) {
      r.reason = "cuts: stages do not cover the layers in order";
      return r;
    }
    next = j;
  }
  if (ranges.empty() || next != ci.num_layers()) {
    r.reason = "cuts: stages do not cover all layers";
    return r;
  }
  if (static_cast<int>(ranges.size()) > ci.max_stages()) {
    r.reason = "max_stages: the cuts make " + std::to_string(ranges.size()) + " stages, at most " +
               std::to_string(ci.max_stages()) + " allowed";
    return r;
  }
  Search search(ci, ranges, options.max_expansions);
  if (int s = search.EmptyStage(); s >= 0) {
    r.reason = "no node can hold layers " + RangeText(ranges[s].first, ranges[s].second) +
               " (memory, trust or pins)";
    return r;
  }
  search.Run();
  if (search.best().empty()) {
    if (search.complete()) {
      r.reason = "no assignment of distinct, linked nodes to these cuts";
      return r;
    }
    r.reason = "no assignment found within the search budget";
    r.lower_bound = search.RootBound();
    return r;
  }
  const PlanCost c = ci.EvaluateIndex(search.best());
  r.stages = ci.ToNamed(search.best());
  r.value = c.value;
  r.latency_ms = c.latency_ms;
  r.period_ms = c.period_ms;
  r.migration_ms = c.migration_ms;
  if (search.complete()) {
    r.status = PlanStatus::kOptimal;
    r.lower_bound = c.value;
    r.reason = "best assignment for the given cuts (exhaustive branch and bound)";
  } else {
    r.status = PlanStatus::kFeasible;
    r.lower_bound = std::min(c.value, search.RootBound());
    r.reason = "best assignment found within the search budget";
  }
  return r;
}

}  // namespace edgesplit::planner
