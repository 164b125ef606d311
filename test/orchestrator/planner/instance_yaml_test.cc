#include <catch.hpp>

#include "orchestrator/planner/instance_gen.h"
#include "orchestrator/planner/instance_yaml.h"
#include "orchestrator/planner/planner.h"

using namespace edgesplit::planner;

namespace {

const char* kDesignExample = R"(
model:
  name: gpt-mini
  input_bytes: 65536
  layers:
    - {name: embed, compute_ms: 0.8, param_bytes: 2097152, output_bytes: 65536}
    - {name: block0, compute_ms: 1.5, param_bytes: 4194304, output_bytes: 65536}
nodes:
  - name: gw-1
    speed: 1.0
    memory_bytes: 4.0e9
    trusted: true
    compute_ms: [0.4, 1.1]
  - {name: gpu-2, speed: 4.0, memory_bytes: 8.0e9}
links:
  default: {bandwidth_mbps: 1000, latency_ms: 0.5}
  pairs:
    - {from: gw-1, to: gpu-2, bandwidth_mbps: 100, latency_ms: 2.0, symmetric: true}
source: gw-1
constraints:
  trusted_prefix_layers: 1
  max_stages: 8
  pinned: {1: gpu-2}
objective: {kind: latency}
)";

std::string Err(const std::string& text) {
  auto r = ParsePlanningInstanceYaml(text);
  return r.ok() ? "" : r.status().message();
}

}  // namespace

TEST_CASE("parses the DESIGN.md instance format", "[planner]") {
  auto r = ParsePlanningInstanceYaml(kDesignExample);
  REQUIRE(r.ok());
  CHECK(r->model.layers.size() == 2);
  CHECK(r->nodes[0].compute_ms == std::vector<double>{0.4, 1.1});
  CHECK(r->nodes[1].trusted == false);
  CHECK(r->links.default_link->bandwidth_mbps == 1000);
  CHECK(r->links.pairs[0].link.latency_ms == 2.0);
  CHECK(r->constraints.pinned.at(1) == "gpu-2");
  PlanResult p = Plan(*r);
  CHECK(p.status == PlanStatus::kOptimal);
  CHECK(p.stages.back().node == "gpu-2");
}

TEST_CASE("bad instances give one message naming the key", "[planner]") {
  std::string base = kDesignExample;
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = base;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  CHECK(Err(replace("to: gpu-2,", "to: gpu-9,")).find("links.pairs[0].to: unknown node 'gpu-9'") == 0);
  CHECK(Err(replace("bandwidth_mbps: 100,", "bandwidth_mbps: -100,")).find("links.pairs[0].bandwidth_mbps") == 0);
  CHECK(Err(replace("bandwidth_mbps: 100,", "bandwidth_mbps: fast,")).find("links.pairs[0].bandwidth_mbps: expected a number") == 0);
  CHECK(Err(replace("speed: 4.0,", "sped: 4.0,")).find("nodes[1].sped: unknown key") == 0);
  CHECK(Err("model: {layers: []}\nnodes: [{name: a, memory_bytes: 1}]\nsource: a\n").find("model.layers") == 0);
  CHECK(Err("model: [unclosed").find("yaml: ") == 0);
  CHECK(Err(replace("kind: latency", "kind: fastest")).find("objective.kind") == 0);
  CHECK(Err(replace("source: gw-1", "source: nobody")).find("source: unknown node") == 0);
  // Counts beyond an int are errors, not wrapped (4294967297 would have read as 1).
  CHECK(Err(replace("trusted_prefix_layers: 1", "trusted_prefix_layers: 4294967297"))
            .find("constraints.trusted_prefix_layers: integer 4294967297 is out of range") == 0);
  CHECK(Err(replace("max_stages: 8", "max_stages: -4294967296")).find("constraints.max_stages") == 0);
}

TEST_CASE("KV keys parse with their defaults, are checked, and round-trip", "[planner]") {
  auto plain = ParsePlanningInstanceYaml(kDesignExample);
  REQUIRE(plain.ok());
  CHECK(plain->model.kv_reserve_tokens == 0);
  CHECK(plain->model.layers[0].state_bytes_per_token == 0);
  std::string text = kDesignExample;
  text.replace(text.find("input_bytes: 65536"), 18, "input_bytes: 65536\n  kv_reserve_tokens: 8192");
  text.replace(text.find("output_bytes: 65536}"), 20, "output_bytes: 65536, state_bytes_per_token: 4096}");
  auto r = ParsePlanningInstanceYaml(text);
  REQUIRE(r.ok());
  CHECK(r->model.kv_reserve_tokens == 8192);
  CHECK(r->model.layers[0].state_bytes_per_token == 4096);
  CHECK(r->model.layers[1].state_bytes_per_token == 0);
  auto again = ParsePlanningInstanceYaml(PlanningInstanceToYaml(*r));
  REQUIRE(again.ok());
  CHECK(again->model.kv_reserve_tokens == 8192);
  CHECK(again->model.layers[0].state_bytes_per_token == 4096);
  std::string bad = text;
  bad.replace(bad.find("kv_reserve_tokens: 8192"), 23, "kv_reserve_tokens: -1");
  CHECK(Err(bad).find("model.kv_reserve_tokens: must be a finite number >= 0") == 0);
  bad = text;
  bad.replace(bad.find("state_bytes_per_token: 4096"), 27, "state_bytes_per_token: lots");
  CHECK(Err(bad).find("model.layers[0].state_bytes_per_token: expected a number") == 0);
  bad = text;
  bad.replace(bad.find("kv_reserve_tokens"), 17, "kv_reserve_tokenz");
  CHECK(Err(bad).find("model.kv_reserve_tokenz: unknown key") == 0);
}

TEST_CASE("re-planning keys parse and round-trip", "[planner]") {
  std::string text = std::string(kDesignExample) +
                     "current_plan:\n  stages:\n    - {node: gw-1, first_layer: 0, end_layer: 1}\n"
                     "    - {node: gpu-2, first_layer: 1, end_layer: 2}\n"
                     "migration: {weight_fetch_mbps: 200, horizon_requests: 500}\n";
  auto r = ParsePlanningInstanceYaml(text);
  REQUIRE(r.ok());
  REQUIRE(r->current_plan);
  CHECK(r->current_plan->stages[1].node == "gpu-2");
  CHECK(r->migration->horizon_requests == 500);
  auto again = ParsePlanningInstanceYaml(PlanningInstanceToYaml(*r));
  REQUIRE(again.ok());
  CHECK(again->current_plan->stages == r->current_plan->stages);
}

TEST_CASE("random instances round-trip through YAML with the same plan value", "[planner]") {
  for (uint64_t seed = 1; seed < 60; ++seed) {
    const PlanningInstance in = RandomTinyInstance(seed);
    auto back = ParsePlanningInstanceYaml(PlanningInstanceToYaml(in));
    INFO("seed " << seed << " " << (back.ok() ? "" : back.status().message()));
    REQUIRE(back.ok());
    PlanResult a = Plan(in), b = Plan(*back);
    CHECK(a.status == b.status);
    if (a.status != PlanStatus::kInfeasible) CHECK(a.value == Approx(b.value).epsilon(1e-12));
  }
}
