#include "agent/runtime/gpt_synth.h"

#include <catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/runtime/profiler.h"
#include "agent/runtime/segment.h"
#include "common/model/manifest.h"
#include "test/agent/runtime/test_package.h"

using namespace edgesplit;

namespace {
std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("the same synth options give a byte-identical package") {
  std::string a = testing::SmallGpt("synth-a", 3, 9);
  std::string b = testing::SmallGpt("synth-b", 3, 9);
  std::string c = testing::SmallGpt("synth-c", 3, 10);
  Manifest ma = LoadManifest(a).value(), mb = LoadManifest(b).value(), mc = LoadManifest(c).value();
  REQUIRE(ma.num_layers() == 5);
  for (int i = 0; i < ma.num_layers(); ++i) {
    CHECK(Slurp(a + "/" + ma.layers[i].file) == Slurp(b + "/" + mb.layers[i].file));
    CHECK(ma.layers[i].sha256 == mb.layers[i].sha256);
  }
  CHECK(ma.layers[1].sha256 != mc.layers[1].sha256);  // another seed, other weights
}

TEST_CASE("a synthesised GPT has embedding, blocks and head with consistent specs") {
  std::string dir = testing::SmallGpt("synth-shape", 2);
  Manifest m = LoadManifest(dir).value();
  CHECK(m.family == "gpt");
  CHECK(m.input == TensorSpec{DType::kInt64, {1, 16}, 1});
  REQUIRE(m.generation);
  CHECK(m.generation->max_context == 1024);
  CHECK(m.generation->vocab == 200);
  CHECK_FALSE(m.layers.front().state);
  REQUIRE(m.layers[1].state);
  CHECK(m.layers[1].state->spec.shape == std::vector<int64_t>{2, 1, 4, 1024, 16});
  CHECK(m.layers[1].state->bytes_per_token == 2u * 64 * 4);
  CHECK_FALSE(m.layers.back().state);
  CHECK(m.layers.front().name == "embed");
  CHECK(m.layers.back().name == "lm_head");
  CHECK(m.layers.back().output.shape == std::vector<int64_t>{1, 16, 200});
  CHECK(m.layers[1].param_bytes == 4u * (12 * 64 * 64 + 13 * 64));
  CHECK(m.layers[0].param_bytes == 4u * (200 * 64 + 1024 * 64));  // token table + a position per context slot
  CHECK(VerifyPackage(m, dir).ok());
  auto out = RunChain(dir, m, {}, MakeExampleInput(m, 5));
  REQUIRE(out.ok());
  const float* f = reinterpret_cast<const float*>(out->data);
  for (size_t i = 0; i < out->numel(); ++i) REQUIRE(std::isfinite(f[i]));
}

TEST_CASE("causal attention: a later token never changes earlier outputs") {
  std::string dir = testing::SmallGpt("synth-causal", 2);
  Manifest m = LoadManifest(dir).value();
  HostTensor a = MakeExampleInput(m, 1);
  HostTensor b = HostTensor::CopyOf(a.dtype, a.shape, a.data, a.nbytes);
  reinterpret_cast<int64_t*>(b.data)[15] = (reinterpret_cast<int64_t*>(a.data)[15] + 1) % 200;
  auto oa = RunChain(dir, m, {}, a).value();
  auto ob = RunChain(dir, m, {}, b).value();
  const size_t per_token = 200 * sizeof(float);
  CHECK(std::memcmp(oa.data, ob.data, 15 * per_token) == 0);
  CHECK(std::memcmp(oa.data + 15 * per_token, ob.data + 15 * per_token, per_token) != 0);
}

TEST_CASE("synth options are validated all at once") {
  GptSynthOptions o;
  o.d_model = 30;
  o.heads = 4;
  o.seq = 0;
  auto s = o.Validate();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("--heads must divide --d-model") != std::string::npos);
  CHECK(s.message().find("--seq") != std::string::npos);
}

TEST_CASE("a bfloat16 GPT holds bf16 weights, hidden states and caches, emits float32 logits") {
  std::string dir = testing::SmallGpt("synth-bf16", 2, 3, DType::kBFloat16);
  Manifest m = LoadManifest(dir).value();
  REQUIRE(m.dtype);
  CHECK(*m.dtype == DType::kBFloat16);
  CHECK(m.layers[0].output.dtype == DType::kBFloat16);
  REQUIRE(m.layers[1].state);
  CHECK(m.layers[1].state->spec.dtype == DType::kBFloat16);
  CHECK(m.layers[1].state->bytes_per_token == 2u * 64 * 2);  // half the float32 cache
  CHECK(m.layers.back().output.dtype == DType::kFloat32);
  CHECK(m.layers[1].param_bytes == 2u * (12 * 64 * 64 + 13 * 64));
  // The planner's activation sizes follow the manifest: a bf16 hop carries half the bytes.
  Manifest m32 = LoadManifest(testing::SmallGpt("synth-bf16-ref", 2)).value();
  CHECK(m.layers[1].output.Bytes() * 2 == m32.layers[1].output.Bytes());
  const HostTensor in = MakeExampleInput(m, 5);
  auto whole = RunChain(dir, m, {}, in);
  REQUIRE(whole.ok());
  CHECK(whole->dtype == DType::kFloat32);
  const float* f = reinterpret_cast<const float*>(whole->data);
  for (size_t i = 0; i < whole->numel(); ++i) REQUIRE(std::isfinite(f[i]));
  for (std::vector<int> cuts : {std::vector<int>{1}, {2}, {1, 2, 3}, {3}}) {
    auto split = RunChain(dir, m, cuts, in);
    REQUIRE(split.ok());
    CHECK(split->SameBytes(*whole));  // bitwise within the dtype: the hops carry bf16 exactly
  }
  // Another dtype gives other logits from the same seeded draws (the cast is real).
  auto ref = RunChain(testing::SmallGpt("synth-bf16-ref2", 2), m32, {}, in);
  REQUIRE(ref.ok());
  CHECK_FALSE(ref->SameBytes(*whole));
}

TEST_CASE("synth refuses float16 by name") {
  GptSynthOptions o;
  o.dtype = DType::kFloat16;
  auto s = o.Validate();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("--dtype") != std::string::npos);
}
