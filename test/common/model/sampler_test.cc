#include "common/model/sampler.h"

#include <catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "common/model/generation_request.h"

using namespace edgesplit;

namespace {
std::vector<float> RandomLogits(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0, 3);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
}  // namespace

TEST_CASE("greedy picks the highest logit, the lowest id on ties, and ignores non-finite logits") {
  std::vector<float> l = {1, 5, 3, 5, -2};
  SamplingParams p;
  CHECK(SampleToken(l.data(), l.size(), p, 0) == 1);
  l[0] = std::numeric_limits<float>::quiet_NaN();
  l[2] = std::numeric_limits<float>::infinity();  // not finite: treated as -inf
  CHECK(SampleToken(l.data(), l.size(), p, 3) == 1);
  p.temperature = 1;
  p.top_k = 1;  // top-1 is greedy whatever the temperature
  CHECK(SampleToken(l.data(), l.size(), p, 9) == 1);
}

TEST_CASE("the draw for token i depends only on the seed and i") {
  auto l = RandomLogits(1000, 1);
  SamplingParams p{0.9, 40, 0.95, 1234};
  std::vector<int64_t> a, b;
  for (uint64_t i = 0; i < 50; ++i) a.push_back(SampleToken(l.data(), l.size(), p, i));
  // Same calls in another order give the same token per index.
  for (uint64_t i = 50; i-- > 0;) b.insert(b.begin(), SampleToken(l.data(), l.size(), p, i));
  CHECK(a == b);
  p.seed = 1235;
  int differ = 0;
  for (uint64_t i = 0; i < 50; ++i) differ += SampleToken(l.data(), l.size(), p, i) != a[i];
  CHECK(differ > 10);
  CHECK(SampleUniform(7, 3) == SampleUniform(7, 3));
  CHECK(SampleUniform(7, 3) != SampleUniform(7, 4));
}

TEST_CASE("top-k and top-p restrict sampling to the right candidates") {
  auto l = RandomLogits(500, 2);
  std::vector<size_t> order(l.size());
  for (size_t i = 0; i < l.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l[a] > l[b]; });
  SamplingParams k{1.0, 5, 1.0, 9};
  for (uint64_t i = 0; i < 300; ++i) {
    int64_t t = SampleToken(l.data(), l.size(), k, i);
    CHECK(std::find(order.begin(), order.begin() + 5, static_cast<size_t>(t)) != order.begin() + 5);
  }
  // Nucleus at temperature 1: the smallest prefix of the sorted probabilities reaching top_p.
  double mx = l[order[0]], total = 0;
  for (float x : l) total += std::exp(x - mx);
  const double top_p = 0.5;
  size_t keep = 0;
  for (double mass = 0; mass < top_p * total;) mass += std::exp(l[order[keep++]] - mx);
  SamplingParams pp{1.0, 0, top_p, 11};
  std::map<int64_t, int> seen;
  for (uint64_t i = 0; i < 2000; ++i) seen[SampleToken(l.data(), l.size(), pp, i)]++;
  for (auto& [t, n] : seen)
    CHECK(std::find(order.begin(), order.begin() + keep, static_cast<size_t>(t)) != order.begin() + keep);
  CHECK(seen.size() > 1);
}

TEST_CASE("temperature sampling follows the softmax distribution") {
  std::vector<float> l = {0.0f, std::log(3.0f)};  // probabilities 1/4 and 3/4 at temperature 1
  SamplingParams p{1.0, 0, 1.0, 5};
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += SampleToken(l.data(), l.size(), p, i) == 1;
  CHECK(std::abs(ones / double(n) - 0.75) < 0.02);
}

TEST_CASE("sampling parameters and generation requests are validated, naming the field") {
  CHECK(SamplingParams{-1, 0, 1, 0}.Validate().message().find("temperature") != std::string::npos);
  CHECK(SamplingParams{std::nan(""), 0, 1, 0}.Validate().message().find("temperature") != std::string::npos);
  CHECK(SamplingParams{1, -3, 1, 0}.Validate().message().find("top_k") != std::string::npos);
  CHECK(SamplingParams{1, 0, 0, 0}.Validate().message().find("top_p") != std::string::npos);
  CHECK(SamplingParams{1, 0, 1.5, 0}.Validate().message().find("top_p") != std::string::npos);
  GenerationRequest r;
  r.prompt = {1, 2, 3};
  r.max_new_tokens = 5;
  CHECK(r.Validate(10, 8).ok());
  CHECK(r.ContextTokens() == 8);
  r.max_new_tokens = 6;
  CHECK(r.Validate(10, 8).message().find("max_new_tokens") != std::string::npos);
  r.max_new_tokens = 0;
  CHECK(r.Validate(10, 8).message().find("max_new_tokens") != std::string::npos);
  r.max_new_tokens = 2;
  r.prompt = {1, 10};
  CHECK(r.Validate(10, 8).message().find("prompt_tokens[1]") != std::string::npos);
  r.prompt = {};
  CHECK(r.Validate(10, 8).message().find("prompt_tokens: must not be empty") != std::string::npos);
  r.prompt = {1};
  r.stop_tokens = {-1};
  CHECK(r.Validate(10, 8).message().find("stop_tokens[0]") != std::string::npos);
  CHECK(ParseTokenList("5,17,42", "--prompt-tokens").value() == std::vector<int64_t>{5, 17, 42});
  CHECK(ParseTokenList("5,x", "--prompt-tokens").status().message().find("--prompt-tokens: 'x'") != std::string::npos);
  CHECK(ParseTokenList("5,,6", "--prompt-tokens").status().code() == StatusCode::kInvalidArgument);
}
