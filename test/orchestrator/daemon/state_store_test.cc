#include "orchestrator/daemon/state_store.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {
std::string TmpDir(const std::string& name) {
  const char* base = std::getenv("ES_TEST_TMP");
  std::string dir = std::string(base ? base : "/tmp") + "/orch_state_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}
}  // namespace

TEST_CASE("deployments and policy survive a save and load") {
  CatalogModel m;
  m.name = "gpt";
  m.manifest.name = "gpt";
  m.manifest.input = {DType::kInt64, {1, 4}};
  LayerSpec l;
  l.name = "l0";
  l.param_bytes = 10;
  l.output = {DType::kFloat32, {1, 4}};
  m.manifest.layers = {l, l};
  m.reference_layer_ms = {1, 1};
  ModelCatalog cat;
  REQUIRE(cat.Add(m).ok());
  Controller c(ControllerOptions{}, std::move(cat));
  RegisterInfo r;
  r.node = "n1";
  r.data_address = "127.0.0.1:1";
  r.trusted = true;
  FakeClock clock;
  REQUIRE(c.OnRegister(r, clock.Now()).ok());
  DeploymentSpec spec;
  spec.name = "d";
  spec.model = "gpt";
  spec.slo_latency_ms = 33;
  REQUIRE(c.CreateDeployment(spec, clock.Now()).ok());
  PolicySettings p;
  p.horizon_s = 77;
  REQUIRE(c.SetPolicy(p).ok());

  StateStore store(TmpDir("roundtrip"));
  CHECK(store.Load().status().code() == StatusCode::kNotFound);
  REQUIRE(store.Save(StateToJson(c)).ok());
  auto text = store.Load();
  REQUIRE(text.ok());
  auto st = StateFromJson(*text, PolicySettings{});
  REQUIRE(st.ok());
  CHECK(st->policy.horizon_s == 77);
  REQUIRE(st->deployments.size() == 1);
  CHECK(st->deployments[0].spec.slo_latency_ms == 33);
  CHECK(st->deployments[0].spec.entry_node == "n1");
  CHECK(st->deployments[0].max_epoch == 1);
  CHECK(!std::filesystem::exists(store.path() + ".tmp"));
}

TEST_CASE("a corrupt state file is reported, not half-loaded") {
  CHECK(StateFromJson("{\"deployments\": [{\"spec\": {\"name\": \"\"}}]}", PolicySettings{}).status().code() ==
        StatusCode::kDataLoss);
  CHECK(!StateFromJson("{trunc", PolicySettings{}).ok());
}
