#include "orchestrator/planner/period_solver.h"

#include <algorithm>
#include <bit>
#include <cstdint>

#include "orchestrator/planner/exact_solver.h"

namespace edgesplit::planner {
namespace {

// Bitsets over the 2^m masks, stored contiguously: set (j, v) at ((j * m) + v) * words.
class Reach {
 public:
  Reach(int L, int m) : m_(m), words_(std::max<size_t>(1, (size_t{1} << m) / 64)), bits_((L + 1) * m * words_, 0) {}
  uint64_t* at(int j, int v) { return &bits_[(static_cast<size_t>(j) * m_ + v) * words_]; }
  size_t words() const { return words_; }
  void Clear() { std::fill(bits_.begin(), bits_.end(), 0); }

 private:
  int m_;
  size_t words_;
  std::vector<uint64_t> bits_;
};

bool Test(const uint64_t* b, uint32_t mask) { return (b[mask >> 6] >> (mask & 63)) & 1; }

struct Checker {
  const CompiledInstance& ci;
  const std::vector<int>& cand;
  int m, L;
  size_t W;
  std::vector<uint64_t> allowed;                // masks with popcount <= max_stages
  std::vector<std::vector<uint64_t>> without;   // masks not containing w
  Reach reach;
  std::vector<char> nonempty;
  // The last stage of a found plan.
  int fin_w = -1, fin_j = -1;
  uint32_t fin_mask = 0;

  Checker(const CompiledInstance& c, const std::vector<int>& cd)
      : ci(c), cand(cd), m(static_cast<int>(cd.size())), L(c.num_layers()),
        W(std::max<size_t>(1, (size_t{1} << m) / 64)), reach(L, m) {
    const uint32_t M2 = 1u << m;
    allowed.assign(W, 0);
    without.assign(m, std::vector<uint64_t>(W, 0));
    for (uint32_t s = 0; s < M2; ++s) {
      if (std::popcount(s) <= ci.max_stages()) allowed[s >> 6] |= uint64_t{1} << (s & 63);
      for (int w = 0; w < m; ++w)
        if (!(s & (1u << w))) without[w][s >> 6] |= uint64_t{1} << (s & 63);
    }
  }

  // dst |= (src shifted up by `by` bit positions) & allowed.
  void OrShifted(uint64_t* dst, const uint64_t* src, uint32_t by) {
    const size_t ws = by >> 6, bs = by & 63;
    for (size_t i = W; i-- > ws;) {
      uint64_t x = src[i - ws] << bs;
      if (bs && i - ws > 0) x |= src[i - ws - 1] >> (64 - bs);
      dst[i] |= x & allowed[i];
    }
  }

  bool StageOk(int w, int j, int k, double T) const {
    const int V = cand[w];
    return ci.StageValid(V, j, k) && ci.Compute(V, j, k) <= T;
  }

  // Is there a plan with period <= T? Leaves `reach` filled for reconstruction.
  bool Feasible(double T) {
    reach.Clear();
    nonempty.assign(static_cast<size_t>(L + 1) * m, 0);
    const int src = ci.source();
    std::vector<uint64_t> R(W), S(W);
    for (int j = 0; j < L; ++j) {
      for (int w = 0; w < m; ++w) {
        const int V = cand[w];
        if (!ci.StartAllowed(V, j) || ci.MaxEnd(V, j) <= j) continue;
        if (ci.pin_lo(V) < ci.pin_hi(V) && ci.pin_lo(V) < j) continue;
        std::fill(R.begin(), R.end(), 0);
        bool any = false;
        if (j == 0) {
          if (ci.HasLink(src, V) && ci.BwTime(src, V, ci.act(0)) <= T) R[0] = 1, any = true;  // the empty mask
        } else {
          for (int u = 0; u < m; ++u) {
            if (u == w || !nonempty[j * m + u]) continue;
            const int U = cand[u];
            if (!ci.HasLink(U, V) || ci.BwTime(U, V, ci.act(j)) > T) continue;
            const uint64_t* ru = reach.at(j, u);
            for (size_t i = 0; i < W; ++i) R[i] |= ru[i];
            any = true;
          }
        }
        if (!any) continue;
        for (size_t i = 0; i < W; ++i) R[i] &= without[w][i];
        std::fill(S.begin(), S.end(), 0);
        OrShifted(S.data(), R.data(), 1u << w);
        if (std::all_of(S.begin(), S.end(), [](uint64_t x) { return x == 0; })) continue;
        int kmin = j + 1;
        if (ci.pin_lo(V) < ci.pin_hi(V)) kmin = std::max(kmin, ci.pin_hi(V));
        for (int k = kmin; k <= ci.MaxEnd(V, j); ++k) {
          if (ci.Compute(V, j, k) > T) break;
          if (!ci.StageValid(V, j, k)) continue;
          if (k == L) {
            if (!ci.HasLink(V, src) || ci.BwTime(V, src, ci.act(L)) > T) continue;
            for (size_t i = 0; i < W; ++i)
              if (S[i]) {
                fin_w = w, fin_j = j, fin_mask = static_cast<uint32_t>(i * 64 + std::countr_zero(S[i]));
                return true;
              }
            continue;
          }
          uint64_t* dst = reach.at(k, w);
          for (size_t i = 0; i < W; ++i) dst[i] |= S[i];
          nonempty[k * m + w] = 1;
        }
      }
    }
    return false;
  }

  // Arrived on x with mask `pre` (x excluded) and may start w's stage at i under T?
  bool Pred(int i, uint32_t pre, int w, double T) {
    const int src = ci.source();
    if (i == 0) return pre == 0 && ci.HasLink(src, cand[w]) && ci.BwTime(src, cand[w], ci.act(0)) <= T;
    for (int x = 0; x < m; ++x)
      if ((pre & (1u << x)) && Test(reach.at(i, x), pre) && ci.HasLink(cand[x], cand[w]) &&
          ci.BwTime(cand[x], cand[w], ci.act(i)) <= T)
        return true;
    return false;
  }

  // Walks the reachable sets of the last successful Feasible(T) backward.
  std::vector<IStage> Rebuild(double T) {
    std::vector<IStage> st;
    int w = fin_w, j = fin_j, k = L;
    uint32_t mask = fin_mask;  // includes w
    while (true) {
      st.push_back({cand[w], j, k});
      if (j == 0) break;
      const uint32_t prev = mask & ~(1u << w);
      // The stage before w: some u in prev whose stage ended at j with exactly prev used.
      int u = -1;
      for (int x = 0; x < m && u < 0; ++x)
        if ((prev & (1u << x)) && Test(reach.at(j, x), prev) && ci.HasLink(cand[x], cand[w]) &&
            ci.BwTime(cand[x], cand[w], ci.act(j)) <= T)
          u = x;
      if (u < 0) return {};
      const uint32_t pre = prev & ~(1u << u);
      int start = -1;
      for (int i = j - 1; i >= 0 && start < 0; --i)
        if (StageOk(u, i, j, T) && Pred(i, pre, u, T)) start = i;
      if (start < 0) return {};
      k = j;
      j = start;
      w = u;
      mask = prev;
    }
    std::reverse(st.begin(), st.end());
    return st;
  }
};

}  // namespace

std::vector<double> PeriodCandidates(const CompiledInstance& ci, const std::vector<int>& cand, double lower,
                                     double upper) {
  const int m = static_cast<int>(cand.size()), L = ci.num_layers(), src = ci.source();
  std::vector<double> t;
  auto add = [&](double x) {
    if (x >= lower && x <= upper) t.push_back(x);
  };
  for (int w = 0; w < m; ++w) {
    const int V = cand[w];
    for (int j = 0; j < L; ++j)
      for (int k = j + 1; k <= ci.MaxEnd(V, j); ++k) add(ci.Compute(V, j, k));
    if (ci.HasLink(src, V)) add(ci.BwTime(src, V, ci.act(0)));
    if (ci.HasLink(V, src)) add(ci.BwTime(V, src, ci.act(L)));
    for (int u = 0; u < m; ++u)
      if (u != w && ci.HasLink(cand[u], V))
        for (int j = 1; j < L; ++j) add(ci.BwTime(cand[u], V, ci.act(j)));
  }
  std::sort(t.begin(), t.end());
  t.erase(std::unique(t.begin(), t.end()), t.end());
  return t;
}

PeriodResult SolveMinPeriod(const CompiledInstance& ci, const std::vector<int>& cand, double lower, double upper,
                            const std::function<bool()>& out_of_time) {
  PeriodResult res;
  const int m = static_cast<int>(cand.size()), L = ci.num_layers(), src = ci.source();
  if (m == 0 || m > kMaxDpNodes) return res;
  const std::vector<double> t = PeriodCandidates(ci, cand, lower, upper);
  Checker chk(ci, cand);
  // Binary search for the first feasible threshold.
  size_t lo = 0, hi = t.size();  // answer in [lo, hi); hi == size: none found yet
  while (lo < hi) {
    if (out_of_time && out_of_time()) return res;
    const size_t mid = (lo + hi) / 2;
    if (chk.Feasible(t[mid])) hi = mid;
    else lo = mid + 1;
  }
  res.complete = true;
  if (lo == t.size()) return res;  // nothing within [lower, upper]
  const double T = t[lo];
  if (!chk.Feasible(T)) return res;
  res.stages = chk.Rebuild(T);
  res.feasible = !res.stages.empty();
  res.period = T;
  if (!res.feasible) res.complete = false;  // reconstruction failure: do not claim anything
  return res;
}

}  // namespace edgesplit::planner
