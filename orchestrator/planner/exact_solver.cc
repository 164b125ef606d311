#include "orchestrator/planner/exact_solver.h"

#include <algorithm>
#include <bit>
#include <cstdint>

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
  labels.back().push_back({0.0, 0.0, -1, -1});
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
        const double cs = rb.c_s[hidx(W, j)], cm = std::max(rb.c_m[hidx(W, j)], mf);
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
          const double hs = rb.h_s[hidx(W, k)], hm = std::max(rb.h_m[hidx(W, k)], mf);
          int32_t* so = &slot_of[k * per_layer + static_cast<size_t>(nmask) * m + w];
          for (const auto& x : g) {
            ++ops;
            Label y{x.s + A * comp + mig, std::max(x.m, comp), x.pslot, x.plabel};
            if (y.s + hs + Bm(std::max(y.m, hm)) >= ub) continue;
            // Subset dominance: the same position reached with one node fewer used and no
            // worse label has every completion this one has.
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
