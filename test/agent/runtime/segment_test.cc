#include "agent/runtime/segment.h"

#include <catch.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "agent/runtime/profiler.h"
#include "agent/runtime/torch_threads.h"
#include "test/agent/runtime/test_package.h"

using namespace edgesplit;

namespace {
struct Package {
  std::string dir;
  Manifest manifest;
  Package() {
    ConfigureTorch({});
    dir = testing::SmallGpt("segment-test", 8);
    manifest = LoadManifest(dir).value();
  }
};
Package& Shared() {
  static Package p;
  return p;
}
}  // namespace

TEST_CASE("chained segments equal the whole model bitwise for random cut sets") {
  auto& p = Shared();
  const int L = p.manifest.num_layers();
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 25; ++trial) {
    HostTensor input = MakeExampleInput(p.manifest, 1000 + trial);
    auto whole = RunChain(p.dir, p.manifest, {}, input);
    REQUIRE(whole.ok());
    std::set<int> cut_set;
    int k = std::uniform_int_distribution<int>(1, L - 1)(rng);
    while (static_cast<int>(cut_set.size()) < k) cut_set.insert(std::uniform_int_distribution<int>(1, L - 1)(rng));
    std::vector<int> cuts(cut_set.begin(), cut_set.end());
    auto split = RunChain(p.dir, p.manifest, cuts, input);
    REQUIRE(split.ok());
    INFO("trial " << trial << " with " << cuts.size() << " cuts");
    CHECK(split->SameBytes(*whole));
  }
}

TEST_CASE("a segment reports one time per layer and its input and output specs") {
  auto& p = Shared();
  auto seg = Segment::Load(p.dir, p.manifest, 2, 5);
  REQUIRE(seg.ok());
  CHECK((*seg)->input_spec() == p.manifest.layers[1].output);
  CHECK((*seg)->output_spec() == p.manifest.layers[4].output);
  HostTensor x = HostTensor::Allocate(DType::kFloat32, p.manifest.layers[1].output.shape);
  std::memset(x.data, 0, x.nbytes);
  std::vector<double> ms;
  auto out = (*seg)->Run(x, &ms);
  REQUIRE(out.ok());
  CHECK(ms.size() == 3);
  for (double v : ms) CHECK(v >= 0.0);
}

TEST_CASE("a range outside the model is refused") {
  auto& p = Shared();
  for (auto [a, b] : {std::pair{-1, 2}, {0, 0}, {3, 2}, {0, 11}}) {
    auto seg = Segment::Load(p.dir, p.manifest, a, b);
    REQUIRE_FALSE(seg.ok());
    CHECK(seg.status().code() == StatusCode::kInvalidArgument);
    CHECK(seg.status().message().find("outside model") != std::string::npos);
  }
}

TEST_CASE("an input of the wrong dtype or shape is refused with what differs") {
  auto& p = Shared();
  auto seg = Segment::Load(p.dir, p.manifest, 0, 2);
  REQUIRE(seg.ok());
  auto wrong_shape = HostTensor::Allocate(DType::kInt64, {2, 16});
  std::memset(wrong_shape.data, 0, wrong_shape.nbytes);
  auto r = (*seg)->Run(wrong_shape, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("shape [2,16] does not match expected [1,16] (dimension 1 may be 1..1024)") !=
        std::string::npos);
  // The sequence dimension varies up to the context, not beyond.
  auto too_long = HostTensor::Allocate(DType::kInt64, {1, 1025});
  std::memset(too_long.data, 0, too_long.nbytes);
  CHECK_FALSE((*seg)->Run(too_long, nullptr).ok());
  auto shorter = HostTensor::Allocate(DType::kInt64, {1, 5});
  std::memset(shorter.data, 0, shorter.nbytes);
  auto ok = (*seg)->Run(shorter, nullptr);
  REQUIRE(ok.ok());
  CHECK(ok->shape == std::vector<int64_t>{1, 5, 64});
  auto wrong_dtype = HostTensor::Allocate(DType::kFloat32, {1, 16});
  std::memset(wrong_dtype.data, 0, wrong_dtype.nbytes);
  r = (*seg)->Run(wrong_dtype, nullptr);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("dtype float32 does not match expected int64") != std::string::npos);
}

TEST_CASE("a corrupt or missing layer file is refused, and only the range's files are read") {
  std::string dir = testing::SmallGpt("segment-corrupt", 4);
  Manifest m = LoadManifest(dir).value();
  {
    std::fstream f(dir + "/" + m.layers[2].file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    f.put('\x5a');
  }
  auto bad = Segment::Load(dir, m, 1, 4);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::kDataLoss);
  CHECK(bad.status().message().find("sha256 mismatch") != std::string::npos);
  // Layers outside the requested range are never touched.
  std::filesystem::remove(dir + "/" + m.layers[0].file);
  CHECK(Segment::Load(dir, m, 3, 6).ok());
  auto missing = Segment::Load(dir, m, 0, 2);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("a file with the right hash but no TorchScript inside is refused, not crashed on") {
  std::string dir = testing::SmallGpt("segment-garbage", 2);
  Manifest m = LoadManifest(dir).value();
  std::string junk = "this is not a zip archive";
  {
    std::ofstream f(dir + "/" + m.layers[1].file, std::ios::binary | std::ios::trunc);
    f << junk;
  }
  SegmentOptions no_verify;
  no_verify.verify_sha256 = false;
  auto r = Segment::Load(dir, m, 1, 2, no_verify);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kDataLoss);
  CHECK(r.status().message().find("not a loadable TorchScript file") != std::string::npos);
}
