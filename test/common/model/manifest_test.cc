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
}
