#include <catch.hpp>

#include "orchestrator/planner/cost_model.h"

using namespace edgesplit::planner;

namespace {

PlanningInstance TwoNodes() {
  PlanningInstance in;
  in.model.input_bytes = 1000;
  in.model.layers = {{"a", 2.0, 100, 2000}, {"b", 4.0, 300, 500}};
  in.nodes = {{"s", 1.0, 1e6, true, {}}, {"g", 2.0, 1e6, false, {}}};
  in.links.pairs = {{"s", "g", {8.0, 1.0}, true}};  // 8 Mbps: 1 byte = 1e-3 ms
  in.source = "s";
  return in;
}

}  // namespace

TEST_CASE("latency sums transfers and compute, period takes the largest term", "[planner]") {
  PlanningInstance in = TwoNodes();
  PlanCost c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  REQUIRE(c.feasible);
  // compute 2 + 4/2; transfer s->g of 2000 bytes: 1 + 2 ms; back g->s 500 bytes: 1 + 0.5 ms.
  CHECK(c.latency_ms == Approx(2 + 3 + 2 + 1.5));
  CHECK(c.period_ms == Approx(2.0));
  CHECK(c.value == Approx(c.latency_ms));
}

TEST_CASE("a stage on the source needs no input transfer", "[planner]") {
  PlanningInstance in = TwoNodes();
  PlanCost c = Evaluate(in, {{"s", 0, 2}});
  REQUIRE(c.feasible);
  CHECK(c.latency_ms == Approx(6.0));
}

TEST_CASE("memory counts params plus twice the largest activation", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.nodes[1].memory_bytes = 300 + 2 * 2000 - 1;  // layer b needs 300 + 2*max(2000, 500)
  PlanCost c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  CHECK_FALSE(c.feasible);
  CHECK(c.violation.find("memory") != std::string::npos);
  in.nodes[1].memory_bytes += 1;
  CHECK(Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}}).feasible);
}

TEST_CASE("memory adds the KV reservation: tokens x state bytes per token over the range", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.model.layers[0].state_bytes_per_token = 3;
  in.model.layers[1].state_bytes_per_token = 2;
  in.model.kv_reserve_tokens = 100;  // layer b reserves 200 bytes
  in.nodes[1].memory_bytes = 300 + 2 * 2000 + 200;
  CHECK(Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}}).feasible);
  in.nodes[1].memory_bytes -= 1;
  PlanCost c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  CHECK_FALSE(c.feasible);
  CHECK(c.violation == "memory: node 'g' cannot hold layers 1-1 (needs 4500 bytes, 200 of them KV reservation)");
  const CompiledInstance ci(in);
  CHECK(ci.Memory(0, 2) == Approx(400 + 2 * 2000 + 500));
  CHECK(ci.KvBytes(0, 2) == Approx(500));
}

TEST_CASE("a negative KV reservation or state size is a validation error", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.model.kv_reserve_tokens = -1;
  in.model.layers[1].state_bytes_per_token = -2;
  const std::string m = ValidateInstance(in).message();
  CHECK(m.find("model.kv_reserve_tokens: must be a finite number >= 0") != std::string::npos);
  CHECK(m.find("model.layers[1].state_bytes_per_token: must be a finite number >= 0") != std::string::npos);
}

TEST_CASE("untrusted nodes may not hold the trusted prefix", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.constraints.trusted_prefix_layers = 1;
  PlanCost c = Evaluate(in, {{"g", 0, 2}});
  CHECK_FALSE(c.feasible);
  CHECK(c.violation.find("trusted_prefix_layers") != std::string::npos);
}

TEST_CASE("an asymmetric pair defines only its direction", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.links.pairs[0].symmetric = false;
  PlanCost c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  CHECK_FALSE(c.feasible);
  CHECK(c.violation.find("links") != std::string::npos);
}

TEST_CASE("a node's uplink and downlink cap every link out of and into it", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.nodes[0].uplink_mbps = 4.0;    // s sends at half the link's 8 Mbps: 2000 bytes take 4 ms
  in.nodes[0].downlink_mbps = 16;   // looser than the link: the link's 8 Mbps still holds
  PlanCost c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  REQUIRE(c.feasible);
  CHECK(c.latency_ms == Approx(2 + (1 + 4) + 2 + (1 + 0.5)));
  in.nodes[1].uplink_mbps = 2.0;  // g's answer: 500 bytes at 2 Mbps, 2 ms
  c = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  CHECK(c.latency_ms == Approx(2 + (1 + 4) + 2 + (1 + 2)));
  CHECK(c.period_ms == Approx(4.0));  // the capped uplink is now the bottleneck term
  in.nodes[1].downlink_mbps = -1;
  CHECK_FALSE(ValidateInstance(in).ok());
  CHECK(ValidateInstance(in).message().find("nodes[1].downlink_mbps") != std::string::npos);
}

TEST_CASE("migration counts weights the node does not hold, amortised", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.current_plan = CurrentPlan{{{"s", 0, 2}}};
  in.migration = MigrationOptions{8.0, 10.0};  // 8 Mbps: 1 byte = 1e-3 ms
  PlanCost keep = Evaluate(in, {{"s", 0, 2}});
  CHECK(keep.migration_ms == 0);
  PlanCost move = Evaluate(in, {{"s", 0, 1}, {"g", 1, 2}});
  REQUIRE(move.feasible);
  CHECK(move.migration_ms == Approx(0.3));  // layer b's 300 bytes to g
  CHECK(move.value == Approx(move.latency_ms + 0.03));
}

TEST_CASE("validation names every bad key", "[planner]") {
  PlanningInstance in = TwoNodes();
  in.links.pairs.push_back({"s", "nowhere", {-1, 0}, true});
  in.model.layers[1].param_bytes = -5;
  edgesplit::Status s = ValidateInstance(in);
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("links.pairs[1].to: unknown node 'nowhere'") != std::string::npos);
  CHECK(s.message().find("links.pairs[1].bandwidth_mbps") != std::string::npos);
  CHECK(s.message().find("model.layers[1].param_bytes") != std::string::npos);
  in = TwoNodes();
  in.model.layers.clear();
  CHECK(ValidateInstance(in).message().find("model.layers") != std::string::npos);
}
