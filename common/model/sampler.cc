#include "common/model/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace edgesplit {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double Logit(const float* logits, size_t i) {
  const float v = logits[i];
  return std::isfinite(v) ? static_cast<double>(v) : -std::numeric_limits<double>::infinity();
}

int64_t Argmax(const float* logits, size_t vocab) {
  size_t best = 0;
  double bv = Logit(logits, 0);
  for (size_t i = 1; i < vocab; ++i) {
    const double v = Logit(logits, i);
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return static_cast<int64_t>(best);
}

// Candidates ordered by logit, highest first (ties: lower id first), so the order is total and
// the same on every machine.
struct Cand {
  double logit;
  uint32_t id;
};
bool Before(const Cand& a, const Cand& b) { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }

}  // namespace

Status SamplingParams::Validate() const {
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 100)
    return InvalidArgument("temperature: must be a finite number in [0, 100]");
  if (top_k < 0 || top_k > 1000000) return InvalidArgument("top_k: must be an integer in [0, 1000000]");
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1) return InvalidArgument("top_p: must be a number in (0, 1]");
  return Status::Ok();
}

double SampleUniform(uint64_t seed, uint64_t index) {
  const uint64_t r = SplitMix64(SplitMix64(seed) ^ SplitMix64(index + 0x632be59bd9b4e019ULL));
  return static_cast<double>(r >> 11) * 0x1.0p-53;
}

int64_t SampleToken(const float* logits, size_t vocab, const SamplingParams& p, uint64_t index) {
  if (vocab == 0) return 0;
  if (p.temperature == 0 || p.top_k == 1) return Argmax(logits, vocab);
  const double inv_t = 1.0 / p.temperature;
  std::vector<Cand> c(vocab);
  for (size_t i = 0; i < vocab; ++i) c[i] = {Logit(logits, i), static_cast<uint32_t>(i)};
  size_t n = vocab;
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < vocab) {
    n = static_cast<size_t>(p.top_k);
    std::nth_element(c.begin(), c.begin() + (n - 1), c.end(), Before);
    c.resize(n);
    std::sort(c.begin(), c.end(), Before);
  }
  const double max_logit = std::max_element(c.begin(), c.end(), [](const Cand& a, const Cand& b) { return Before(b, a); })->logit;
  if (!std::isfinite(max_logit)) return 0;
  std::vector<double> w(n);
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += (w[i] = std::exp((c[i].logit - max_logit) * inv_t));
  if (p.top_p < 1.0) {
    // Nucleus: the smallest prefix of the ordered candidates whose mass reaches top_p. Sorting
    // every candidate costs ~1 ms at a 32k vocabulary, so grow a sorted head until it suffices.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    auto before = [&](size_t a, size_t b) { return Before(c[a], c[b]); };
    size_t head = std::min<size_t>(n, 64), keep = n;
    for (;;) {
      std::partial_sort(order.begin(), order.begin() + head, order.end(), before);
      double mass = 0;
      size_t k = 0;
      while (k < head && mass < p.top_p * total) mass += w[order[k++]];
      if (mass >= p.top_p * total || head == n) {
        keep = k;
        break;
      }
      head = std::min(n, head * 4);
    }
    std::vector<Cand> kc(keep);
    std::vector<double> kw(keep);
    total = 0;
    for (size_t i = 0; i < keep; ++i) {
      kc[i] = c[order[i]];
      total += (kw[i] = w[order[i]]);
    }
    c.swap(kc);
    w.swap(kw);
    n = keep;
  }
  // The walk below is over a fixed order: the sorted top-k or nucleus candidates, or token-id
  // order for plain temperature sampling.
  const double target = SampleUniform(p.seed, index) * total;
  double acc = 0;
  for (size_t i = 0; i < n; ++i) {
    acc += w[i];
    if (target < acc) return c[i].id;
  }
  return c[n - 1].id;
}

}  // namespace edgesplit
