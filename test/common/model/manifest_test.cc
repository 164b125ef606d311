#include "common/model/manifest.h"

#include <catch.hpp>

using namespace edgesplit;

namespace {
const char* kGood = R"(name: m
format_version: 1
input: {dtype: int64, shape: [1, 8]}
layers:
  - name: embed
    file: layer_000.pt
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
    param_bytes: 10
    output: {dtype: float32, shape: [1, 8, 4]}
  - name: head
    file: layer_001.pt
    sha256: 1111111111111111111111111111111111111111111111111111111111111111
    param_bytes: 20
    output: {dtype: float32, shape: [1, 8, 16]}
    flops: 1024
)";

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  REQUIRE(p != std::string::npos);
  return s.replace(p, from.size(), to);
}
}  // namespace

TEST_CASE("a manifest parses and re-serialises to the same bytes") {
  auto m = ParseManifest(kGood);
  REQUIRE(m.ok());
  CHECK(m->num_layers() == 2);
  CHECK(m->InputOf(1) == m->layers[0].output);
  CHECK(m->TotalParamBytes() == 30);
  CHECK(*m->layers[1].flops == 1024);
  std::string yaml = ManifestToYaml(*m);
  auto again = ParseManifest(yaml);
  REQUIRE(again.ok());
  CHECK(ManifestToYaml(*again) == yaml);
}

TEST_CASE("manifest errors name the offending key") {
  auto bad = [](const std::string& text) { return ParseManifest(text).status().message(); };
  CHECK(bad(Replace(kGood, "format_version: 1", "format_version: 9")).find("format_version 9") != std::string::npos);
  CHECK(bad(Replace(kGood, "dtype: int64", "dtype: complex")).find("input.dtype") != std::string::npos);
  CHECK(bad(Replace(kGood, "file: layer_000.pt", "file: ../etc/passwd")).find("layers[0].file") != std::string::npos);
  CHECK(bad(Replace(kGood, "file: layer_001.pt", "file: layer_000.pt")).find("duplicate") != std::string::npos);
  CHECK(bad(Replace(kGood, "param_bytes: 10", "param_bytes: 10\n    colour: red")).find("unknown key 'colour'") !=
        std::string::npos);
  CHECK(bad(Replace(kGood, "shape: [1, 8, 4]", "shape: [1, -8, 4]")).find("layers[0].output.shape") != std::string::npos);
  CHECK(bad("name: [unclosed").find("model.yaml") != std::string::npos);
  CHECK(bad("name: m\nformat_version: 1\ninput: {dtype: int64, shape: [1]}\nlayers: []\n").find("layers") !=
        std::string::npos);
  // Found by fuzz_manifest: negative FLOPs were accepted, then cast to uint64 when written back.
  CHECK(bad(Replace(kGood, "param_bytes: 10", "param_bytes: 10\n    flops: -1")).find("layers[0].flops") !=
        std::string::npos);
  CHECK(bad(Replace(kGood, "param_bytes: 10", "param_bytes: 10\n    flops: .nan")).find("layers[0].flops") !=
        std::string::npos);
  const std::string sha = "sha256: " + std::string(64, '0');
  CHECK(bad(Replace(kGood, sha, "sha256: " + std::string(63, '0') + "!")).find("layers[0].sha256") != std::string::npos);
}

TEST_CASE("FLOPs beyond 64 bits are written back as a number, not cast") {
  auto m = ParseManifest(Replace(kGood, "param_bytes: 10", "param_bytes: 10\n    flops: 1e30"));
  REQUIRE(m.ok());
  auto again = ParseManifest(ManifestToYaml(*m));
  REQUIRE(again.ok());
  CHECK(*again->layers[0].flops == 1e30);
}

namespace {
const char* kGen = R"(name: g
format_version: 2
input: {dtype: int64, shape: [1, 8], seq_dim: 1}
layers:
  - name: embed
    file: layer_000.pt
    sha256: 0000000000000000000000000000000000000000000000000000000000000000
    param_bytes: 10
    output: {dtype: float32, shape: [1, 8, 4], seq_dim: 1}
  - name: block
    file: layer_001.pt
    sha256: 2222222222222222222222222222222222222222222222222222222222222222
    param_bytes: 10
    output: {dtype: float32, shape: [1, 8, 4], seq_dim: 1}
    state: {dtype: float32, shape: [2, 1, 2, 64, 2], seq_dim: 3, bytes_per_token: 32}
  - name: head
    file: layer_002.pt
    sha256: 1111111111111111111111111111111111111111111111111111111111111111
    param_bytes: 20
    output: {dtype: float32, shape: [1, 8, 16], seq_dim: 1}
generation:
  max_context: 64
  vocab: 16
  step_method: step
)";
}  // namespace

TEST_CASE("a version 1 package still loads and has no generation section") {
  auto m = ParseManifest(kGood);
  REQUIRE(m.ok());
  CHECK(m->format_version == 1);
  CHECK_FALSE(m->generation);
  CHECK(m->input.seq_dim == -1);
  CHECK(m->StateBytesPerToken(0, 2) == 0);
  // Version 2 keys are not accepted in a version 1 manifest.
  CHECK(ParseManifest(Replace(kGood, "shape: [1, 8]}", "shape: [1, 8], seq_dim: 1}")).status().message().find(
            "unknown key 'seq_dim'") != std::string::npos);
}

TEST_CASE("a generation manifest declares context, vocabulary, state and variable sequence dims") {
  auto m = ParseManifest(kGen);
  REQUIRE(m.ok());
  REQUIRE(m->generation);
  CHECK(m->generation->max_context == 64);
  CHECK(m->generation->vocab == 16);
  CHECK(m->MaxSeq() == 64);
  CHECK(m->StateBytesPerToken(0, 3) == 32);
  CHECK(m->StateBytesPerToken(2, 3) == 0);
  CHECK(m->input.Accepts(DType::kInt64, {1, 1}, 64));
  CHECK(m->input.Accepts(DType::kInt64, {1, 64}, 64));
  CHECK_FALSE(m->input.Accepts(DType::kInt64, {1, 65}, 64));
  CHECK_FALSE(m->input.Accepts(DType::kInt64, {2, 8}, 64));
  CHECK_FALSE(m->input.Accepts(DType::kInt32, {1, 8}, 64));
  std::string yaml = ManifestToYaml(*m);
  auto again = ParseManifest(yaml);
  REQUIRE(again.ok());
  CHECK(ManifestToYaml(*again) == yaml);
  CHECK(again->layers[1].state->spec == m->layers[1].state->spec);
}

TEST_CASE("generation manifest errors name the field") {
  auto bad = [](const std::string& text) { return ParseManifest(text).status().message(); };
  CHECK(bad(Replace(kGen, "bytes_per_token: 32", "bytes_per_token: 31")).find("layers[1].state.bytes_per_token") !=
        std::string::npos);
  CHECK(bad(Replace(kGen, "vocab: 16", "vocab: 17")).find("logits") != std::string::npos);
  CHECK(bad(Replace(kGen, "max_context: 64", "max_context: 0")).find("generation.max_context") != std::string::npos);
  CHECK(bad(Replace(kGen, "step_method: step", "step_method: step\n  beam: 4")).find("unknown key 'beam'") !=
        std::string::npos);
  CHECK(bad(Replace(kGen, "shape: [1, 8, 16], seq_dim: 1}", "shape: [1, 8, 16]}")).find("layers[2].output.seq_dim") !=
        std::string::npos);
  CHECK(bad(Replace(kGen, "input: {dtype: int64, shape: [1, 8], seq_dim: 1}", "input: {dtype: float32, shape: [1, 8], seq_dim: 1}"))
            .find("token ids") != std::string::npos);
  CHECK(bad(Replace(kGen, "seq_dim: 3,", "seq_dim: 7,")).find("layers[1].state.seq_dim") != std::string::npos);
  std::string no_gen = kGen;
  no_gen = no_gen.substr(0, no_gen.find("generation:"));
  CHECK(bad(no_gen).find("layers[1].state: only in a generation package") != std::string::npos);
}

TEST_CASE("the package dtype parses, round-trips and refuses what weights cannot be") {
  auto m = ParseManifest(Replace(kGood, "format_version: 1", "format_version: 1\ndtype: bfloat16"));
  REQUIRE(m.ok());
  REQUIRE(m->dtype);
  CHECK(*m->dtype == DType::kBFloat16);
  const std::string yaml = ManifestToYaml(*m);
  CHECK(yaml.find("dtype: bfloat16") != std::string::npos);
  CHECK(ManifestToYaml(ParseManifest(yaml).value()) == yaml);
  CHECK_FALSE(ParseManifest(kGood).value().dtype);  // absent: float32, not emitted
  auto bad = ParseManifest(Replace(kGood, "format_version: 1", "format_version: 1\ndtype: int64"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("model.yaml: dtype") != std::string::npos);
  auto spec = ParseManifest(Replace(kGood, "output: {dtype: float32, shape: [1, 8, 4]}",
                                    "output: {dtype: bfloat16, shape: [1, 8, 4]}"));
  REQUIRE(spec.ok());
  CHECK(spec->layers[0].output.Bytes() == 8 * 4 * 2);  // activation sizes follow the dtype
}
