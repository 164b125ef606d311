#include "agent/runtime/chain_generator.h"

#include <catch.hpp>
#include <cmath>
#include <random>
#include <set>

#include "agent/runtime/torch_threads.h"
#include "test/agent/runtime/test_package.h"

using namespace edgesplit;

namespace {
struct GenPackage {
  std::string dir;
  Manifest manifest;
  GenPackage() {
    ConfigureTorch({});
    dir = testing::SmallGpt("chain-gen-test", 6);
    manifest = LoadManifest(dir).value();
  }
};
GenPackage& Shared() {
  static GenPackage p;
  return p;
}
GenerationRequest Request(std::vector<int64_t> prompt, int n, SamplingParams s = {}) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.max_new_tokens = n;
  r.sampling = s;
  return r;
}
std::vector<int> RandomCuts(std::mt19937& rng, int L) {
  std::set<int> cut_set;
  int k = std::uniform_int_distribution<int>(1, L - 1)(rng);
  while (static_cast<int>(cut_set.size()) < k) cut_set.insert(std::uniform_int_distribution<int>(1, L - 1)(rng));
  return {cut_set.begin(), cut_set.end()};
}
}  // namespace

TEST_CASE("cached generation equals recomputing the whole sequence, greedy and seeded sampling") {
  auto& p = Shared();
  auto whole = ChainGenerator::Load(p.dir, p.manifest, {}).value();
  for (SamplingParams s : {SamplingParams{}, SamplingParams{0.8, 40, 0.9, 7}, SamplingParams{1.2, 0, 1.0, 99}}) {
    auto req = Request({5, 17, 42, 3, 150}, 40, s);
    auto cached = whole->Generate(req, true);
    auto reference = whole->Generate(req, false);
    REQUIRE(cached.ok());
    REQUIRE(reference.ok());
    INFO("temperature " << s.temperature << " seed " << s.seed);
    CHECK(cached->tokens.size() == 40);
    CHECK(cached->tokens == reference->tokens);
    CHECK(cached->finish == FinishReason::kLength);
  }
}

TEST_CASE("a bfloat16 package generates the same tokens through any cut set as whole") {
  ConfigureTorch({});
  const std::string dir = testing::SmallGpt("chain-gen-bf16", 4, 3, DType::kBFloat16);
  const Manifest m = LoadManifest(dir).value();
  auto whole = ChainGenerator::Load(dir, m, {}).value();
  const auto greedy = Request({1, 2, 3, 4}, 16);
  const auto want = whole->Generate(greedy, true).value().tokens;
  CHECK(want.size() == 16);
  std::mt19937 rng(5);
  for (int trial = 0; trial < 4; ++trial) {
    auto cuts = RandomCuts(rng, m.num_layers());
    INFO("trial " << trial);
    CHECK(ChainGenerator::Load(dir, m, cuts).value()->Generate(greedy, true).value().tokens == want);
  }
}

TEST_CASE("generation is identical through any cut set, bitwise in the logits' choice") {
  auto& p = Shared();
  const int L = p.manifest.num_layers();
  auto whole = ChainGenerator::Load(p.dir, p.manifest, {}).value();
  const auto greedy = Request({1, 2, 3, 4}, 24);
  const auto sampled = Request({9, 8, 7}, 24, {0.9, 20, 0.95, 3});
  const auto want_g = whole->Generate(greedy, true).value().tokens;
  const auto want_s = whole->Generate(sampled, true).value().tokens;
  std::mt19937 rng(77);
  for (int trial = 0; trial < 12; ++trial) {
    auto cuts = RandomCuts(rng, L);
    auto split = ChainGenerator::Load(p.dir, p.manifest, cuts).value();
    INFO("trial " << trial << " with " << cuts.size() << " cuts");
    CHECK(split->Generate(greedy, true).value().tokens == want_g);
    CHECK(split->Generate(sampled, true).value().tokens == want_s);
  }
}

TEST_CASE("a stop token ends the stream without being emitted") {
  auto& p = Shared();
  auto gen = ChainGenerator::Load(p.dir, p.manifest, {}).value();
  auto req = Request({5, 6}, 30);
  auto all = gen->Generate(req, true).value().tokens;
  REQUIRE(all.size() == 30);
  req.stop_tokens = {all[7]};
  auto stopped = gen->Generate(req, true).value();
  CHECK(stopped.finish == FinishReason::kStop);
  const size_t first = std::find(all.begin(), all.end(), all[7]) - all.begin();
  CHECK(stopped.tokens == std::vector<int64_t>(all.begin(), all.begin() + first));
}

TEST_CASE("session state is preallocated, bounded by its capacity and refused past it") {
  auto& p = Shared();
  auto seg = Segment::Load(p.dir, p.manifest, 0, 3).value();
  CHECK(seg->can_generate());
  CHECK(seg->state_bytes_per_token() == 2u * 2 * 64 * 4);  // two blocks in [0,3)
  CHECK(seg->NewSession(0).status().code() == StatusCode::kInvalidArgument);
  CHECK(seg->NewSession(1025).status().code() == StatusCode::kInvalidArgument);
  auto st = seg->NewSession(4).value();
  CHECK(st->capacity() == 4);
  CHECK(st->bytes() == 4 * seg->state_bytes_per_token());
  auto ids = HostTensor::CopyOf(DType::kInt64, {1, 3}, std::vector<int64_t>{1, 2, 3}.data(), 24);
  REQUIRE(seg->Step(ids, st.get(), 0, nullptr).ok());
  auto one = HostTensor::CopyOf(DType::kInt64, {1, 1}, std::vector<int64_t>{4}.data(), 8);
  REQUIRE(seg->Step(one, st.get(), 3, nullptr).ok());
  auto r = seg->Step(one, st.get(), 4, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("capacity of 4 tokens") != std::string::npos);
}

TEST_CASE("bad generation requests are refused naming the field, before any work") {
  auto& p = Shared();
  auto gen = ChainGenerator::Load(p.dir, p.manifest, {}).value();
  CHECK(gen->Generate(Request({}, 3), true).status().message().find("prompt_tokens") != std::string::npos);
  CHECK(gen->Generate(Request({200}, 3), true).status().message().find("prompt_tokens[0]") != std::string::npos);
  CHECK(gen->Generate(Request({1}, 1024), true).status().message().find("max_new_tokens") != std::string::npos);
  CHECK(gen->Generate(Request({1}, 3, {-1, 0, 1, 0}), true).status().message().find("temperature") != std::string::npos);
}

TEST_CASE("a batched decode step gives each session what its own step gives, within float rounding") {
  auto& p = Shared();
  for (auto [first, end] : {std::pair{0, 3}, {3, p.manifest.num_layers()}}) {
    auto seg = Segment::Load(p.dir, p.manifest, first, end).value();
    REQUIRE(seg->can_batch_steps());
    // Three sessions at different positions: prefill each alone, then one decode position each,
    // once separately and once batched (on copies of the same prefilled state).
    std::vector<std::unique_ptr<SessionState>> solo, batch;
    std::vector<HostTensor> next;
    std::vector<int64_t> positions;
    for (int s = 0; s < 3; ++s) {
      const int64_t T = 2 + 3 * s;
      HostTensor prefix = first == 0 ? HostTensor::Allocate(DType::kInt64, {1, T})
                                     : HostTensor::Allocate(DType::kFloat32, {1, T, 64});
      HostTensor one = first == 0 ? HostTensor::Allocate(DType::kInt64, {1, 1}) : HostTensor::Allocate(DType::kFloat32, {1, 1, 64});
      for (auto* t : {&prefix, &one}) {
        if (first == 0) for (size_t i = 0; i < t->numel(); ++i) reinterpret_cast<int64_t*>(t->data)[i] = (7 * i + s) % 200;
        else for (size_t i = 0; i < t->numel(); ++i) reinterpret_cast<float*>(t->data)[i] = 0.01f * ((i * 13 + s) % 97) - 0.4f;
      }
      for (auto* v : {&solo, &batch}) {
        v->push_back(seg->NewSession(32).value());
        REQUIRE(seg->Step(prefix, v->back().get(), 0, nullptr).ok());
      }
      next.push_back(one);
      positions.push_back(T);
    }
    std::vector<SessionState*> states;
    for (auto& b : batch) states.push_back(b.get());
    auto outs = seg->StepBatch(next, states, positions);
    REQUIRE(outs.ok());
    REQUIRE(outs->size() == 3);
    for (int s = 0; s < 3; ++s) {
      auto want = seg->Step(next[s], solo[s].get(), positions[s], nullptr).value();
      const auto& got = (*outs)[s];
      REQUIRE(got.shape == want.shape);
      const float* a = reinterpret_cast<const float*>(got.data);
      const float* b = reinterpret_cast<const float*>(want.data);
      double max_rel = 0;
      for (size_t i = 0; i < want.numel(); ++i) max_rel = std::max(max_rel, std::abs(a[i] - b[i]) / (std::abs(b[i]) + 1e-3));
      INFO("segment [" << first << "," << end << ") session " << s);
      CHECK(max_rel < 1e-4);
    }
  }
}
