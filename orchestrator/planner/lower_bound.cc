#include "orchestrator/planner/lower_bound.h"

#include <algorithm>
#include <cmath>

namespace edgesplit::planner {
namespace {

// dst[v] = min over w != v of (lat[v][w] + bytes*inv[v][w]) * a + c[w]  (sum part), or
// max(bytes*inv[v][w], c[w]) minimised (max part). The n^2*L inner loop of the relaxation.
// dst[v] = min over w != v of A*transfer(v -> w, bytes) + c[w] (sum part) or
// max(bwtime(v -> w, bytes), c[w]) (max part); links whose bandwidth time exceeds cap are
// ignored. The n^2*L inner loop of the relaxation, written column-wise so it vectorises.
void MinOverNext(const CompiledInstance& ci, double bytes, const std::vector<double>& c, bool max_part, double cap,
                 std::vector<double>& dst) {
  const int n = ci.num_nodes();
  const double A = ci.A();
  std::fill(dst.begin(), dst.end(), kInf);
  double* __restrict d = dst.data();
  for (int w = 0; w < n; ++w) {
    const double cw = c[w];
    if (cw == kInf) continue;
    const double* __restrict lat = ci.lat_col(w);
    const double* __restrict inv = ci.inv_bw_col(w);
    const double keep = d[w];  // w -> w is not a transfer between stages; undo it below
    if (!max_part) {
      if (A == 0) {  // migration-only sum part: links matter, their cost does not
        for (int v = 0; v < n; ++v) {
          const double x = (inv[v] == kInf || bytes * inv[v] > cap) ? kInf : cw;
          d[v] = x < d[v] ? x : d[v];
        }
      } else {
        for (int v = 0; v < n; ++v) {
          const double bw = bytes * inv[v];
          const double x = (inv[v] == kInf || bw > cap) ? kInf : A * (lat[v] + bw) + cw;
          d[v] = x < d[v] ? x : d[v];
        }
      }
    } else {
      for (int v = 0; v < n; ++v) {
        const double bw = bytes * inv[v];  // NaN when bytes == 0 and there is no link
        const double x = (inv[v] == kInf || bw > cap) ? kInf : (bw > cw ? bw : cw);
        d[v] = x < d[v] ? x : d[v];
      }
    }
    d[w] = keep;
  }
}

// Fluid bound on M: the stages together process all reference work; node v in time P does at
// most min(P * speed_v, cap_v) where cap_v is the largest reference work of a contiguous range
// it can hold, at most max_stages nodes take part, and they must be linked fast enough.
double FluidPeriodBound(const CompiledInstance& ci) {
  const int n = ci.num_nodes(), L = ci.num_layers();
  // Work unit: the fastest time of each layer over all nodes, so per-node speeds are >= 1.
  std::vector<double> unit(L, kInf);
  for (int l = 0; l < L; ++l)
    for (int v = 0; v < n; ++v) unit[l] = std::min(unit[l], ci.LayerTime(v, l));
  double W = 0;
  for (double u : unit) W += u;
  if (W <= 0) return 0;
  std::vector<double> speed(n, 0), cap(n, 0);
  for (int v = 0; v < n; ++v) {
    double s = 0;
    for (int l = 0; l < L; ++l) {
      double t = ci.LayerTime(v, l);
      if (unit[l] > 0) s = std::max(s, t > 0 ? unit[l] / t : kInf);
    }
    speed[v] = s;
    for (int i = 0; i < L; ++i) {
      int e = ci.MaxEnd(v, i);
      double w = 0;
      for (int l = i; l < e; ++l) w += unit[l];
      cap[v] = std::max(cap[v], w);
    }
  }
  const int k = ci.max_stages();
  // Capacity of a node set at period P: its k best min(P * speed, cap).
  auto capacity = [&](const std::vector<int>& nodes, double P) {
    std::vector<double> x;
    x.reserve(nodes.size());
    for (int v : nodes) x.push_back(std::min(speed[v] == kInf ? kInf : P * speed[v], cap[v]));
    if (k < static_cast<int>(x.size())) std::nth_element(x.begin(), x.begin() + k, x.end(), std::greater<double>());
    double sum = 0;
    for (int i = 0; i < std::min<int>(k, x.size()); ++i) sum += x[i];
    return sum;
  };
  // Consecutive stages talk over a link whose bandwidth time, even for the smallest
  // activation between layers, is at most P: so at period P all stages lie in one connected
  // component of the graph of such links, and that component alone must carry the work.
  double amin = kInf;
  for (int j = 1; j < L; ++j) amin = std::min(amin, ci.act(j));
  // Symmetric edge weights, row-major, so each BFS step streams one row.
  std::vector<double> ew;
  if (amin < kInf) {
    ew.resize(static_cast<size_t>(n) * n);
    for (int u = 0; u < n; ++u) {
      const double* out = ci.inv_bw_row(u);
      const double* in = ci.inv_bw_col(u);
      for (int v = 0; v < n; ++v) {
        const double inv = std::min(out[v], in[v]);
        ew[static_cast<size_t>(u) * n + v] = inv == kInf ? kInf : amin * inv;
      }
    }
  }
  auto feasible = [&](double P) {
    std::vector<int> comp(n, -1), queue, members;
    for (int s0 = 0; s0 < n; ++s0) {
      if (comp[s0] >= 0) continue;
      members.clear();
      queue.assign(1, s0);
      comp[s0] = s0;
      while (!queue.empty()) {
        const int u = queue.back();
        queue.pop_back();
        members.push_back(u);
        if (amin == kInf) continue;  // one layer: no transfers between stages
        const double* row = &ew[static_cast<size_t>(u) * n];
        for (int v = 0; v < n; ++v)
          if (comp[v] < 0 && row[v] <= P) comp[v] = s0, queue.push_back(v);
      }
      if (capacity(members, P) >= W) return true;
    }
    return false;
  };
  std::vector<int> all(n);
  for (int v = 0; v < n; ++v) all[v] = v;
  if (capacity(all, kInf) < W * (1 - 1e-12)) return 0;  // memory infeasible; reported elsewhere
  double hi = 1e-6;
  while (!feasible(hi)) {
    hi *= 2;
    if (hi > 1e15) return 0;
  }
  double lo = 0;
  for (int it = 0; it < 50 && hi - lo > 1e-4 * hi; ++it) {  // lo stays a valid bound
    double mid = (lo + hi) / 2;
    (feasible(mid) ? hi : lo) = mid;
  }
  return lo * (1 - 1e-9);  // stay on the proven side of rounding
}

}  // namespace

RelaxedBounds ComputeRelaxedBounds(const CompiledInstance& ci, double cap) {
  RelaxedBounds r;
  const int n = ci.num_nodes(), L = ci.num_layers(), src = ci.source();
  const double A = ci.A(), B = ci.B();
  r.n = n, r.L = L;
  const size_t sz = static_cast<size_t>(n) * (L + 1);
  const bool need_s = !ci.s_trivial(), need_m = B > 0 || ci.s_trivial();
  r.h_s.assign(sz, need_s ? kInf : 0.0);
  r.h_m.assign(sz, need_m ? kInf : 0.0);
  r.c_s.assign(sz, need_s ? kInf : 0.0);
  r.c_m.assign(sz, need_m ? kInf : 0.0);
  auto idx = [L](int v, int j) { return static_cast<size_t>(v) * (L + 1) + j; };
  std::vector<int> arg_k(sz, -1);  // primary-part stage ends for the relaxed plan
  const bool primary_s = need_s;
  for (int v = 0; v < n; ++v) {
    const bool ok = ci.HasLink(v, src) && ci.BwTime(v, src, ci.act(L)) <= cap;
    if (need_s) r.h_s[idx(v, L)] = ok ? A * ci.Transfer(v, src, ci.act(L)) : kInf;
    if (need_m) r.h_m[idx(v, L)] = ok ? ci.BwTime(v, src, ci.act(L)) : kInf;
  }
  std::vector<double> col(n), dst(n);
  for (int j = L - 1; j >= 0; --j) {
    for (int w = 0; w < n; ++w) {
      if (!ci.StartAllowed(w, j)) continue;
      const int e = ci.MaxEnd(w, j);
      double bs = kInf, bm = kInf;
      int ks = -1, km = -1;
      for (int k = j + 1; k <= e; ++k) {
        if (!ci.StageValid(w, j, k)) continue;
        const double comp = ci.Compute(w, j, k);
        if (comp > cap) break;
        if (need_s) {
          double x = A * comp + ci.Migration(w, j, k) + r.h_s[idx(w, k)];
          if (x < bs) bs = x, ks = k;
        }
        if (need_m) {
          double x = std::max(comp, r.h_m[idx(w, k)]);
          if (x < bm) bm = x, km = k;
        }
      }
      if (need_s) r.c_s[idx(w, j)] = bs;
      if (need_m) r.c_m[idx(w, j)] = bm;
      arg_k[idx(w, j)] = primary_s ? ks : km;
    }
    if (j == 0) break;  // h at layer 0 is never used: the first stage follows the source
    if (need_s) {
      for (int w = 0; w < n; ++w) col[w] = r.c_s[idx(w, j)];
      MinOverNext(ci, ci.act(j), col, false, cap, dst);
      for (int v = 0; v < n; ++v) r.h_s[idx(v, j)] = dst[v];
    }
    if (need_m) {
      for (int w = 0; w < n; ++w) col[w] = r.c_m[idx(w, j)];
      MinOverNext(ci, ci.act(j), col, true, cap, dst);
      for (int v = 0; v < n; ++v) r.h_m[idx(v, j)] = dst[v];
    }
  }
  // From the source: the first stage may run on the source itself (no transfer).
  r.s_lb = need_s ? kInf : 0;
  r.m_lb = need_m ? kInf : 0;
  int first = -1;
  double best_primary = kInf;
  for (int w = 0; w < n; ++w) {
    if (!ci.HasLink(src, w) || ci.BwTime(src, w, ci.act(0)) > cap) continue;
    if (need_s) r.s_lb = std::min(r.s_lb, A * ci.Transfer(src, w, ci.act(0)) + r.c_s[idx(w, 0)]);
    if (need_m) r.m_lb = std::min(r.m_lb, std::max(ci.BwTime(src, w, ci.act(0)), r.c_m[idx(w, 0)]));
    double p = primary_s ? A * ci.Transfer(src, w, ci.act(0)) + r.c_s[idx(w, 0)]
                         : std::max(ci.BwTime(src, w, ci.act(0)), r.c_m[idx(w, 0)]);
    if (p < best_primary) best_primary = p, first = w;
  }
  if (r.s_lb == kInf || r.m_lb == kInf) return r;  // lower_bound stays kInf: relaxation infeasible
  r.fluid_m_lb = need_m ? FluidPeriodBound(ci) : 0;
  r.lower_bound = r.s_lb + B * std::max(r.m_lb, r.fluid_m_lb);
  // Reconstruct the relaxed plan of the primary part.
  for (int v = first, j = 0; v >= 0 && j < L;) {
    int k = arg_k[idx(v, j)];
    if (k <= j) break;
    r.relaxed_plan.push_back({v, j, k});
    j = k;
    if (j == L) break;
    // The next node: recompute the argmin of the step that produced h(v, j).
    const int u = v;
    double best = kInf;
    v = -1;
    for (int w = 0; w < n; ++w) {
      if (w == u || !ci.HasLink(u, w)) continue;
      const double bw = ci.BwTime(u, w, ci.act(j));
      if (bw > cap) continue;
      const double x = primary_s ? (A == 0 ? 0.0 : A * ci.Transfer(u, w, ci.act(j))) + r.c_s[idx(w, j)]
                                 : std::max(bw, r.c_m[idx(w, j)]);
      if (x < best) best = x, v = w;
    }
  }
  if (!r.relaxed_plan.empty() && r.relaxed_plan.back().end != L) r.relaxed_plan.clear();

  return r;
}

std::vector<double> RankNodes(const CompiledInstance& ci, const RelaxedBounds& r) {
  const int n = ci.num_nodes(), L = ci.num_layers(), src = ci.source();
  const double A = ci.A(), B = ci.B();
  const bool need_s = !ci.s_trivial(), need_m = B > 0 || ci.s_trivial();
  const size_t sz = static_cast<size_t>(n) * (L + 1);
  auto idx = [L](int v, int j) { return static_cast<size_t>(v) * (L + 1) + j; };
  // Forward pass: f_s/f_m = best prefix arriving at w to start a stage at layer j.
  std::vector<double> f_s(sz, kInf), f_m(sz, kInf), e_s(n), e_m(n), col_s(n), col_m(n);
  for (int w = 0; w < n; ++w)
    if (ci.HasLink(src, w)) {
      f_s[idx(w, 0)] = need_s ? A * ci.Transfer(src, w, ci.act(0)) : 0;
      f_m[idx(w, 0)] = need_m ? ci.BwTime(src, w, ci.act(0)) : 0;
    }
  for (int k = 1; k < L; ++k) {
    for (int v = 0; v < n; ++v) {
      double bs = kInf, bm = kInf;
      for (int j = k - 1; j >= 0; --j) {
        if (!ci.StageValid(v, j, k)) continue;
        const double comp = ci.Compute(v, j, k);
        bs = std::min(bs, f_s[idx(v, j)] + A * comp + ci.Migration(v, j, k));
        bm = std::min(bm, std::max(f_m[idx(v, j)], comp));
      }
      e_s[v] = need_s ? bs : (bm < kInf ? 0 : kInf);
      e_m[v] = need_m ? bm : (bs < kInf ? 0 : kInf);
    }
    // Row-major over sources v so the link matrices stream; w == v is skipped by two ranges.
    std::fill(col_s.begin(), col_s.end(), kInf);
    std::fill(col_m.begin(), col_m.end(), kInf);
    const double a = ci.act(k);
    for (int v = 0; v < n; ++v) {
      if (e_s[v] == kInf || e_m[v] == kInf) continue;
      const double* lat = ci.lat_row(v);
      const double* inv = ci.inv_bw_row(v);
      for (auto [lo, hi] : {std::pair{0, v}, std::pair{v + 1, n}}) {
        if (need_s)
          for (int w = lo; w < hi; ++w) {
            const double x = inv[w] == kInf ? kInf : e_s[v] + A * (lat[w] + a * inv[w]);
            col_s[w] = std::min(col_s[w], x);
          }
        if (need_m)
          for (int w = lo; w < hi; ++w) {
            const double x = inv[w] == kInf ? kInf : std::max(e_m[v], a * inv[w]);
            col_m[w] = std::min(col_m[w], x);
          }
      }
    }
    for (int w = 0; w < n; ++w) {
      f_s[idx(w, k)] = need_s ? col_s[w] : (col_m[w] < kInf ? 0 : kInf);
      f_m[idx(w, k)] = need_m ? col_m[w] : (col_s[w] < kInf ? 0 : kInf);
    }
  }
  std::vector<double> through(n, kInf);
  for (int w = 0; w < n; ++w)
    for (int j = 0; j < L; ++j) {
      const double x = f_s[idx(w, j)] + r.c_s[idx(w, j)] + B * std::max(f_m[idx(w, j)], r.c_m[idx(w, j)]);
      through[w] = std::min(through[w], x);
    }
  return through;
}

double PeriodGridBound(const CompiledInstance& ci, double m_lo, double m_hi, double incumbent, int points) {
  const double B = ci.B();
  if (!(m_lo > 0) || !(m_hi > m_lo) || m_hi == kInf || points < 1) return 0;
  double bound = incumbent;
  double lo = m_lo;
  for (int i = 1; i <= points && bound > 0; ++i) {
    const double hi = m_lo * std::pow(m_hi / m_lo, static_cast<double>(i) / points);
    const RelaxedBounds rt = ComputeRelaxedBounds(ci, hi);
    bound = std::min(bound, (rt.lower_bound == kInf ? kInf : rt.s_lb) + B * lo);
    lo = hi;
  }
  // Periods above m_hi cannot beat the incumbent, which `bound` already caps.
  return bound;
}

int MinStagesNeeded(const CompiledInstance& ci) {
  const int n = ci.num_nodes(), L = ci.num_layers();
  std::vector<int> best(L + 1, L + 1);
  best[0] = 0;
  for (int j = 0; j < L; ++j) {
    if (best[j] > L) continue;
    int far = j;
    for (int v = 0; v < n; ++v)
      if (ci.StartAllowed(v, j)) far = std::max(far, ci.MaxEnd(v, j));
    for (int k = j + 1; k <= far; ++k) best[k] = std::min(best[k], best[j] + 1);
  }
  return best[L];
}

}  // namespace edgesplit::planner
