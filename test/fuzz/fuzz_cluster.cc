#include "test/fuzz/fuzz_cluster.h"

#include <cstdlib>

namespace edgesplit::fuzz {

namespace {
orch::CatalogModel Model(const std::string& name, int layers, bool generates) {
  orch::CatalogModel m;
  m.name = name;
  m.manifest.name = name;
  m.manifest.input = {DType::kInt64, {1, 4}, generates ? 1 : -1};
  for (int i = 0; i < layers; ++i) {
    LayerSpec l;
    l.name = "l" + std::to_string(i);
    l.param_bytes = 1000;
    l.output = {DType::kFloat32, {1, 4, 8}, generates ? 1 : -1};
    if (generates) l.state = StateSpec{{DType::kFloat32, {2, 1, 32, 8}, 2}, 2 * 8 * 4};
    m.manifest.layers.push_back(l);
    m.reference_layer_ms.push_back(1.0);
  }
  if (generates) m.manifest.generation = GenerationSpec{32, 100, "step", ""};
  return m;
}

// Set-up that cannot fail unless the product changed: then the fuzzer must stop, not fuzz nothing.
void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz cluster set-up failed: %s\n", what);
    std::abort();
  }
}
}  // namespace

orch::ModelCatalog FuzzCatalog() {
  orch::ModelCatalog cat;
  Require(cat.Add(Model("gpt", 4, true)).ok(), "add gpt");
  Require(cat.Add(Model("cnn", 2, false)).ok(), "add cnn");
  return cat;
}

orch::RegisterInfo FuzzNode(const std::string& name) {
  orch::RegisterInfo r;
  r.node = name;
  r.version = "fuzz";
  r.data_address = "127.0.0.1:9";
  r.trusted = true;
  r.incarnation = 1;
  r.capacity.version = 1;
  r.capacity.cores = 2;
  r.capacity.memory_total_bytes = r.capacity.memory_available_bytes = uint64_t{1} << 30;
  r.models = {"gpt", "cnn"};
  return r;
}

FuzzCluster::FuzzCluster() {
  orch::ControllerOptions o;
  o.adopt_grace = std::chrono::seconds(0);
  o.probe_interval = std::chrono::seconds(1);
  // Trust is the operator's (an agent's claim grants nothing): the deployment needs a trusted entry.
  o.registry.trusted_nodes = {"n1", "n2"};
  controller = std::make_unique<orch::Controller>(o, FuzzCatalog());
  for (const char* n : {"n1", "n2"}) Require(controller->OnRegister(FuzzNode(n), clock.Now()).ok(), "register");
  orch::DeploymentSpec d;
  d.name = "d";
  d.model = "gpt";
  d.entry_node = "n1";
  Require(controller->CreateDeployment(d, clock.Now()).ok(), "create deployment");
}

}  // namespace edgesplit::fuzz
