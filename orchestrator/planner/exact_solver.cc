#include "orchestrator/planner/exact_solver.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace edgesplit::planner {
namespace {

struct Label {
  double s, m;
  int32_t pslot;   // predecessor state (slot index); -1 for none
  int32_t plabel;  // label index inside the predecessor's finalized list
};

enum class Mode { kSOnly, kMOnly, kPareto };

// A state's labels: one inline (the only case for single-part objectives, so no allocation
// per state), spilling to the heap for Pareto sets.
class Labels {
 public:
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const Label* begin() const { return n_ <= 1 ? &one_ : heap_.data(); }
  const Label* end() const { return begin() + n_; }
  const Label& operator[](size_t i) const { return begin()[i]; }
  Label& front() { return n_ <= 1 ? one_ : heap_[0]; }
  void push_back(const Label& x) {
    if (n_ == 0) {
      one_ = x;
    } else {
      if (n_ == 1) heap_.assign(1, one_);
      heap_.push_back(x);
    }
    ++n_;
  }
  // Removes the labels x dominates (Pareto mode only).
  void RemoveDominatedBy(const Label& x) {
    if (n_ == 0) return;
    if (n_ == 1) {
      if (x.s <= one_.s && x.m <= one_.m) n_ = 0;
      return;
    }
    heap_.erase(std::remove_if(heap_.begin(), heap_.end(), [&](const Label& y) { return x.s <= y.s && x.m <= y.m; }),
                heap_.end());
    n_ = heap_.size();
    if (n_ == 1) one_ = heap_[0];
  }

 private:
  uint32_t n_ = 0;
  Label one_{};
  std::vector<Label> heap_;
};

// Inserts `x` into a label list kept minimal under the mode's dominance. Returns false when x
// is dominated.
template <class List>
bool InsertLabel(List& list, const Label& x, Mode mode) {
  switch (mode) {
    case Mode::kSOnly:
      if (!list.empty()) {
        if (list[0].s <= x.s) return false;
        list.front() = x;
        return true;
      }
      break;
    case Mode::kMOnly:
      if (!list.empty()) {
        if (list[0].m <= x.m) return false;
        list.front() = x;
        return true;
      }
      break;
    case Mode::kPareto:
      for (const auto& y : list)
        if (y.s <= x.s && y.m <= x.m) return false;
      RemoveDominated(list, x);
      break;
  }
  list.push_back(x);
  return true;
}

void RemoveDominated(Labels& list, const Label& x) { list.RemoveDominatedBy(x); }
void RemoveDominated(std::vector<Label>& list, const Label& x) {
  list.erase(std::remove_if(list.begin(), list.end(), [&](const Label& y) { return x.s <= y.s && x.m <= y.m; }),
             list.end());
}

// Distinct-node bound on the sum part still to come, for the capped (threshold) subproblems,
// where the reuse-relaxed cost-to-go is weak (it may reuse the fastest node in cap-sized
// pieces). The layers [k, L) must run on candidates not used yet, each at most once. With
// unit[l] the fastest time of layer l over the candidates, a range of unit work x costs v at
// least x * c_v (c_v = min_l t(v, l) / unit[l]), so a stage on v under the cap T carries at most
// room_v(k) = min(T / c_v, the largest range v can hold starting at or after k) unit work.
//  - compute: filling the remaining work into the unused candidates, cheapest per unit first,
//    gives the least compute time (a fractional knapsack);
//  - stages: at least r_min, the fewest unused candidates whose rooms cover the work (and at
//    most max_stages - used, else no completion);
//  - transfers: every cut after k moves at least the smallest activation left over some
//    candidate link, and the last stage returns the output to the source.
// Every completion pays all three at once, so their sum is admissible. O(m) per query.
class DistinctBound {
 public:
  DistinctBound() = default;
  DistinctBound(const CompiledInstance& ci, const std::vector<int>& cand, double cap) {
    const int m = static_cast<int>(cand.size());
    L_ = ci.num_layers();
    A_ = ci.A();
    max_stages_ = ci.max_stages();
    std::vector<double> unit(L_, kInf);
    for (int l = 0; l < L_; ++l)
      for (int V : cand) unit[l] = std::min(unit[l], ci.LayerTime(V, l));
    work_.assign(L_ + 1, 0);
    for (int l = 0; l < L_; ++l) work_[l + 1] = work_[l] + unit[l];
    const double total = work_[L_];
    if (!(total > 0) || !(total < kInf)) return;  // nothing to bound
    eps_ = 1e-9 * total;
    cost_.assign(m, kInf);
    room_.assign(static_cast<size_t>(L_ + 1) * m, 0);
    for (int w = 0; w < m; ++w) {
      const int V = cand[w];
      for (int l = 0; l < L_; ++l)
        if (unit[l] > 0) cost_[w] = std::min(cost_[w], ci.LayerTime(V, l) / unit[l]);
      const double by_cap = cap == kInf ? kInf : (cost_[w] > 0 ? cap / cost_[w] : kInf);
      double best = 0;
      for (int i = L_ - 1; i >= 0; --i) {
        const int e = ci.MaxEnd(V, i);
        if (e > i) best = std::max(best, work_[e] - work_[i]);
        room_[static_cast<size_t>(i) * m + w] = std::min(best, by_cap);
      }
    }
    by_cost_.resize(m);
    for (int w = 0; w < m; ++w) by_cost_[w] = w;
    std::sort(by_cost_.begin(), by_cost_.end(), [&](int a, int b) { return cost_[a] < cost_[b]; });
    by_room_.resize(static_cast<size_t>(L_ + 1) * m);
    for (int k = 0; k <= L_; ++k) {
      int* o = &by_room_[static_cast<size_t>(k) * m];
      const double* r = &room_[static_cast<size_t>(k) * m];
      for (int w = 0; w < m; ++w) o[w] = w;
      std::sort(o, o + m, [&](int a, int b) { return r[a] > r[b]; });
    }
    // hop_[i]: least transfer time of a cut at a layer >= i (cuts are at 1..L-1).
    hop_.assign(L_ + 1, kInf);
    double amin = kInf;
    for (int i = L_ - 1; i >= 1; --i) {
      amin = std::min(amin, ci.act(i));
      double h = kInf;
      for (int U : cand)
        for (int V : cand)
          if (U != V && ci.HasLink(U, V)) h = std::min(h, ci.Transfer(U, V, amin));
      hop_[i] = h;
    }
    hop_[0] = hop_[std::min(1, L_)];
    ret_ = kInf;
    for (int V : cand)
      if (ci.HasLink(V, ci.source())) ret_ = std::min(ret_, ci.Transfer(V, ci.source(), ci.act(L_)));
    m_ = m;
    active_ = true;
  }
  bool active() const { return active_; }
  // Least sum part of layers [k, L) (k < L) on candidates outside `used` (popcount `n_used`).
  // `after_stage`: a stage just ended at k, so the cut at k is still to pay; otherwise the
  // transfer into the next stage is paid and its node is among the unused. kInf: no completion.
  double operator()(int k, uint32_t used, int n_used, bool after_stage) const {
    double rem = work_[L_] - work_[k], t = 0;
    if (rem <= eps_) return 0;  // layers without work: nothing to say
    for (int w : by_cost_) {
      if (used & (1u << w)) continue;
      const double x = std::min(rem, room_[static_cast<size_t>(k) * m_ + w]);
      t += x * cost_[w];
      rem -= x;
      if (rem <= eps_) break;
    }
    if (rem > eps_) return kInf;
    rem = work_[L_] - work_[k];
    int r = 0;
    const int* o = &by_room_[static_cast<size_t>(k) * m_];
    const double* room = &room_[static_cast<size_t>(k) * m_];
    for (int i = 0; i < m_ && rem > eps_; ++i) {
      if (used & (1u << o[i])) continue;
      rem -= room[o[i]];
      ++r;
    }
    if (r + n_used > max_stages_) return kInf;
    const int hops = after_stage ? r : r - 1;
    const double tr = hops == 0 ? 0.0 : hops * hop_[after_stage ? k : k + 1];
    return A_ * (t + tr + ret_) * (1 - 1e-12);
  }

 private:
  bool active_ = false;
  int L_ = 0, m_ = 0, max_stages_ = 0;
  double A_ = 0, eps_ = 0, ret_ = 0;
  std::vector<double> work_, cost_, room_, hop_;
  std::vector<int> by_cost_, by_room_;
};

struct Slot {
  int16_t j;
  int16_t v;  // candidate index; -1: the source before the first stage
  uint32_t mask;
};

}  // namespace

DpResult SolveDp(const CompiledInstance& ci, const RelaxedBounds& rb, const std::vector<int>& cand,
                 double incumbent, const DpOptions& opt) {
  DpResult res;
  const int m = static_cast<int>(cand.size());
  const int L = ci.num_layers(), src = ci.source();
  const double A = ci.A(), B = opt.s_only ? 0.0 : ci.B(), cap = opt.m_cap;
  if (m == 0 || m > kMaxDpNodes) return res;
  const Mode mode = B == 0 ? Mode::kSOnly : (ci.s_trivial() ? Mode::kMOnly : Mode::kPareto);
  const uint32_t M2 = 1u << m;
  const size_t per_layer = static_cast<size_t>(M2) * m;
  // The dense state index is large (L * 2^m * m entries): reuse the caller's copy, and put
  // back the -1s of the states this call created when it returns.
  std::vector<int32_t> local;
  std::vector<int32_t>& slot_of = opt.workspace ? *opt.workspace : local;
  if (slot_of.size() != per_layer * (L + 1)) slot_of.assign(per_layer * (L + 1), -1);
  std::vector<Slot> slots;
  struct ResetIndex {  // restores slot_of on every return path
    std::vector<int32_t>& index;
    const std::vector<Slot>& slots;
    size_t per_layer;
    int m;
    ~ResetIndex() {
      for (size_t i = 1; i < slots.size(); ++i)
        index[slots[i].j * per_layer + static_cast<size_t>(slots[i].mask) * m + slots[i].v] = -1;
    }
  } reset{slot_of, slots, per_layer, m};
  std::vector<Labels> labels;
  std::vector<std::vector<int32_t>> layer_slots(L + 1);
  slots.push_back({0, -1, 0});
  labels.emplace_back();
  labels.back().push_back({0.0, opt.m_floor, -1, -1});  // periods below m_floor count as m_floor
  layer_slots[0].push_back(0);

  double ub = incumbent;
  struct Closing {
    int32_t pslot = -1, plabel = -1;
    int w = -1, j = 0;
  } best;
  bool truncated = false;
  long long ops = 0, next_check = 4096, groups = 0;
  const int max_stages = ci.max_stages();
  const double mf = opt.m_floor;
  // B * x without 0 * inf = NaN when B is 0 (latency, or the S-only threshold subproblem).
  auto Bm = [B](double x) { return B == 0 ? 0.0 : B * x; };
  auto hidx = [L](int v, int j) { return static_cast<size_t>(v) * (L + 1) + j; };

  auto Dominated = [&](const Labels& list, const Label& y) {
    for (const auto& z : list)
      if (mode == Mode::kSOnly ? z.s <= y.s : mode == Mode::kMOnly ? z.m <= y.m : (z.s <= y.s && z.m <= y.m)) return true;
    return false;
  };
  auto SubsetDominated = [&](const Label& y, int k, uint32_t nmask, int w) {
    for (uint32_t rest = nmask & ~(1u << w); rest; rest &= rest - 1) {
      const uint32_t sub = nmask & ~(rest & (~rest + 1));
      const int32_t sl = slot_of[k * per_layer + static_cast<size_t>(sub) * m + w];
      if (sl < 0) continue;
      for (const auto& z : labels[sl]) {
        const bool dom = mode == Mode::kSOnly ? z.s <= y.s : mode == Mode::kMOnly ? z.m <= y.m : (z.s <= y.s && z.m <= y.m);
        if (dom) return true;
      }
    }
    return false;
  };

  // Distinct-node bound on the rest of S, only under a cap, where the relaxed cost-to-go is weak
  // (it may reuse the fastest node in cap-sized pieces). Without a latency part (A == 0) the
  // sum part is migration only and the bound is not worth its cost.
  const DistinctBound distinct = cap < kInf && A > 0 ? DistinctBound(ci, cand, cap) : DistinctBound();
  // Memoised per (k, used, after_stage): the same position is reached from many (j, mask, w).
  std::vector<float> memo;
  if (distinct.active()) memo.assign(static_cast<size_t>(L + 1) << (m + 1), -1.0f);
  auto DistinctS = [&](int k, uint32_t used, bool after_stage) -> double {
    if (!distinct.active() || k >= L) return 0.0;
    float& x = memo[((static_cast<size_t>(k) << m | used) << 1) | after_stage];
    if (x < 0) {
      // Stored rounded down, so the memo never overstates the bound.
      const double b = distinct(k, used, std::popcount(used), after_stage);
      x = b == kInf ? std::numeric_limits<float>::infinity() : std::nextafter(static_cast<float>(b), 0.0f);
      if (x < 0) x = 0;
    }
    return x;
  };

  std::vector<Label> g;
  for (int j = 0; j < L; ++j) {
    if (opt.out_of_time && opt.out_of_time()) {
      res.labels = ops;
      if (best.w >= 0) goto reconstruct;  // keep what was found; complete stays false
      return res;
    }
    auto& here = layer_slots[j];
    if (here.empty()) continue;
    if (opt.beam_width > 0 && static_cast<int>(here.size()) > opt.beam_width) {
      // Beam: keep the states whose best label has the smallest optimistic completion.
      std::vector<std::pair<double, int32_t>> key;
      key.reserve(here.size());
      for (int32_t sl : here) {
        const int V = cand[slots[sl].v];
        double k = kInf;
        for (const auto& l : labels[sl])
          k = std::min(k, l.s + rb.h_s[hidx(V, j)] + Bm(std::max({l.m, rb.h_m[hidx(V, j)], mf})));
        key.push_back({k, sl});
      }
      std::nth_element(key.begin(), key.begin() + opt.beam_width, key.end());
      key.resize(opt.beam_width);
      here.clear();
      for (auto& [k, sl] : key) here.push_back(sl);
      truncated = true;
    }
    std::sort(here.begin(), here.end(), [&](int32_t a, int32_t b) { return slots[a].mask < slots[b].mask; });
    for (size_t gb = 0; gb < here.size();) {
      const uint32_t mask = slots[here[gb]].mask;
      size_t ge = gb;
      while (ge < here.size() && slots[here[ge]].mask == mask) ++ge;
      const int used = std::popcount(mask);
      if (used >= max_stages) {
        gb = ge;
        continue;
      }
      for (int w = 0; w < m; ++w) {
        if (mask & (1u << w)) continue;
        const int W = cand[w];
        if (!ci.StartAllowed(W, j)) continue;
        const int e = ci.MaxEnd(W, j);
        if (e <= j) continue;
        int kmin = j + 1;
        if (ci.pin_lo(W) < ci.pin_hi(W)) {
          if (ci.pin_lo(W) < j) continue;
          kmin = std::max(kmin, ci.pin_hi(W));
        }
        if (kmin > e) continue;
        const double cs = std::max(rb.c_s[hidx(W, j)], DistinctS(j, mask, false)), cm = std::max(rb.c_m[hidx(W, j)], mf);
        if (cs == kInf) continue;
        g.clear();
        for (size_t t = gb; t < ge; ++t) {
          const int32_t sl = here[t];
          const int U = slots[sl].v < 0 ? src : cand[slots[sl].v];
          if (!ci.HasLink(U, W)) continue;
          const double tr = A * ci.Transfer(U, W, ci.act(j)), bw = ci.BwTime(U, W, ci.act(j));
          if (bw > cap) continue;
          const auto& ls = labels[sl];
          for (size_t li = 0; li < ls.size(); ++li) {
            Label x{ls[li].s + tr, std::max(ls[li].m, bw), sl, static_cast<int32_t>(li)};
            if (x.s + cs + Bm(std::max(x.m, cm)) >= ub) continue;
            InsertLabel(g, x, mode);
          }
        }
        if (g.empty()) continue;
        // Compute and migration only grow with k, so once even the most optimistic label
        // cannot beat the incumbent with stage [j, k), no longer stage can either.
        double gs = kInf, gm = kInf;
        for (const auto& x : g) gs = std::min(gs, x.s), gm = std::min(gm, x.m);
        const uint32_t nmask = mask | (1u << w);
        const bool last_allowed = used + 1 <= max_stages;
        const bool more_allowed = used + 1 < max_stages;
        for (int k = kmin; k <= e; ++k) {
          const double comp = ci.Compute(W, j, k), mig = ci.Migration(W, j, k);
          if (comp > cap || gs + A * comp + mig + Bm(std::max({gm, comp, mf})) >= ub) break;
          if (k == L) {
            if (!last_allowed || !ci.HasLink(W, src)) continue;
            const double ts = A * ci.Transfer(W, src, ci.act(L)), tb = ci.BwTime(W, src, ci.act(L));
            if (tb > cap) continue;
            for (const auto& x : g) {
              ++ops;
              const double val = x.s + A * comp + mig + ts + Bm(std::max({x.m, comp, tb}));
              if (val < ub) {
                ub = val;
                best = {x.pslot, x.plabel, W, j};
              }
            }
            continue;
          }
          if (!more_allowed) continue;
          const double hs = std::max(rb.h_s[hidx(W, k)], DistinctS(k, nmask, true)), hm = std::max(rb.h_m[hidx(W, k)], mf);
          if (hs == kInf) continue;
          int32_t* so = &slot_of[k * per_layer + static_cast<size_t>(nmask) * m + w];
          for (const auto& x : g) {
            ++ops;
            Label y{x.s + A * comp + mig, std::max(x.m, comp), x.pslot, x.plabel};
            if (y.s + hs + Bm(std::max(y.m, hm)) >= ub) continue;
            // Dominated in its own state (checked first: the subset lookups below miss the
            // cache), or by the same position reached with one node fewer used and no worse
            // label, which has every completion this one has.
            if (*so >= 0 && Dominated(labels[*so], y)) continue;
            if (SubsetDominated(y, k, nmask, w)) continue;
            if (*so < 0) {
              *so = static_cast<int32_t>(slots.size());
              slots.push_back({static_cast<int16_t>(k), static_cast<int16_t>(w), nmask});
              labels.emplace_back();
              layer_slots[k].push_back(*so);
            }
            InsertLabel(labels[*so], y, mode);
          }
        }
        bool stop = ops > opt.max_labels;
        // Poll the clock every 4096 label operations or 64 (mask, node) groups, whichever
        // comes first: merging labels is work the operation count does not see.
        if (!stop && (ops >= next_check || ++groups % 64 == 0)) {
          next_check = ops + 4096;
          stop = opt.out_of_time && opt.out_of_time();
        }
        if (stop) {
          res.labels = ops;
          if (best.w >= 0) goto reconstruct;
          return res;
        }
      }
      gb = ge;
    }
    std::vector<int32_t>().swap(here);
  }
  res.complete = !truncated;
reconstruct:
  res.labels = ops;
  if (best.w < 0) return res;
  {
    std::vector<IStage> st;
    st.push_back({best.w, best.j, L});
    int32_t sl = best.pslot, li = best.plabel;
    while (sl > 0) {
      const Label& x = labels[sl][li];
      st.push_back({cand[slots[sl].v], slots[x.pslot].j, slots[sl].j});
      sl = x.pslot;
      li = x.plabel;
    }
    std::reverse(st.begin(), st.end());
    res.improved = true;
    res.value = ub;
    res.stages = std::move(st);
  }
  return res;
}

}  // namespace edgesplit::planner
