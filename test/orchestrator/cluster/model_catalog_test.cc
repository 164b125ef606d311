#include "orchestrator/cluster/model_catalog.h"
#include "common/model/compute_probe_nominal.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {
CatalogModel Model(int layers) {
  CatalogModel m;
  m.name = "m";
  m.manifest.name = "m";
  m.manifest.input = {DType::kInt64, {1, 8}};
  for (int i = 0; i < layers; ++i) {
    LayerSpec l;
    l.name = "l" + std::to_string(i);
    l.param_bytes = 1000;
    l.output = {DType::kFloat32, {1, 8, 16}};
    m.manifest.layers.push_back(l);
    m.reference_layer_ms.push_back(1.0 + i);
  }
  return m;
}
}  // namespace

TEST_CASE("layer costs scale the reference by node speed when nothing was measured") {
  CatalogModel m = Model(3);
  NodeRecord n;
  n.profile.speed_factor = 2.0;
  auto c = LayerCostsOn(m, n);
  REQUIRE(c.size() == 3);
  CHECK(c[0] == Approx(0.5));
  CHECK(c[2] == Approx(1.5));
  // Not measured: speed 1. The emulation setting in the profile is never read (no oracle).
  n.profile.speed_factor = 0;
  n.profile.compute_slowdown = 4.0;
  c = LayerCostsOn(m, n);
  CHECK(c[1] == Approx(2.0));
}

TEST_CASE("measured layers win and calibrate the unmeasured ones") {
  CatalogModel m = Model(4);
  NodeRecord n;
  SegmentReport s;
  s.model = "m";
  s.first_layer = 1;
  s.end_layer = 3;
  s.layer_ms = {6.0, 9.0};  // reference 2 and 3: the node is 3x slower
  s.requests_total = 100;
  n.profile.segments.push_back(s);
  auto c = LayerCostsOn(m, n);
  CHECK(c[1] == Approx(6.0));
  CHECK(c[2] == Approx(9.0));
  CHECK(c[0] == Approx(3.0));
  CHECK(c[3] == Approx(12.0));
}

TEST_CASE("profile json must match the manifest's layer count") {
  auto ok = ParseProfileJson(R"({"layers":[{"median_ms":1.5},{"median_ms":2}]})", 2);
  REQUIRE(ok.ok());
  CHECK((*ok)[1] == Approx(2.0));
  CHECK(!ParseProfileJson(R"({"layers":[{"median_ms":1.5}]})", 2).ok());
  CHECK(!ParseProfileJson("nope", 2).ok());
  CHECK(ParseProfileJson(R"({"layers":[{"median_ms":1e400},{"median_ms":2}]})", 2).status().message() ==
        "profile.json: layers[].median_ms must be in [0, 3.6e6]");
  CHECK(!ParseProfileJson(R"({"layers":[{"median_ms":-1},{"median_ms":2}]})", 2).ok());
}

TEST_CASE("a profile's probe time makes a measured speed relative to the profiling machine") {
  double probe = -1;
  auto p = ParseProfileJson(R"({"probe_ms": 3.35, "layers":[{"median_ms":1},{"median_ms":2}]})", 2, &probe);
  REQUIRE(p.ok());
  CHECK(probe == Approx(3.35));
  REQUIRE(ParseProfileJson(R"({"layers":[{"median_ms":1},{"median_ms":2}]})", 2, &probe).ok());
  CHECK(probe == 0);  // absent: unknown
  CHECK(ParseProfileJson(R"({"probe_ms": "x", "layers":[{"median_ms":1},{"median_ms":2}]})", 2).status().message() ==
        "profile.json: probe_ms must be a number in [0, 3.6e6]");

  CatalogModel m = Model(2);
  NodeRecord n;
  n.profile.speed_factor = kComputeProbeNominalMs / 13.4;  // the node's probe takes 13.4 ms
  CHECK(SpeedFor(m, n) == Approx(n.profile.speed_factor));  // no reference probe: nominal scale
  m.reference_probe_ms = 3.35;                               // the profiling machine took 3.35 ms
  CHECK(SpeedFor(m, n) == Approx(0.25));                     // 4x slower than that machine
  CHECK(LayerCostsOn(m, n)[1] == Approx(2.0 * 4));
  n.profile.speed_factor = 0;  // not measured: speed 1, whatever the reference
  CHECK(SpeedFor(m, n) == 1.0);
}

TEST_CASE("the catalog refuses duplicates and profiles of the wrong length") {
  ModelCatalog cat;
  REQUIRE(cat.Add(Model(2)).ok());
  CHECK(cat.Add(Model(2)).code() == StatusCode::kAlreadyExists);
  CatalogModel bad = Model(2);
  bad.name = "x";
  bad.reference_layer_ms.pop_back();
  CHECK(cat.Add(bad).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("measurements of a segment still warming up are ignored") {
  CatalogModel m = Model(2);
  NodeRecord n;
  SegmentReport s;
  s.model = "m";
  s.first_layer = 0;
  s.end_layer = 2;
  s.layer_ms = {500.0, 500.0};
  s.requests_total = 3;
  n.profile.segments.push_back(s);
  CHECK(LayerCostsOn(m, n)[0] == Approx(1.0));
}
