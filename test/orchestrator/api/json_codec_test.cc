#include "orchestrator/api/json_codec.h"

#include <cstring>

#include <boost/json.hpp>
#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;

TEST_CASE("deployment specs round-trip through JSON and unknown keys are refused") {
  DeploymentSpec s;
  s.name = "d1";
  s.model = "gpt";
  s.entry_node = "n1";
  s.objective.kind = planner::ObjectiveKind::kMixed;
  s.objective.alpha = 0.5;
  s.slo_latency_ms = 40;
  s.trusted_prefix_layers = 2;
  auto back = DeploymentSpecFromJson(boost::json::value(DeploymentSpecToJson(s)));
  REQUIRE(back.ok());
  CHECK(back->name == "d1");
  CHECK(back->objective.kind == planner::ObjectiveKind::kMixed);
  CHECK(back->objective.alpha == 0.5);
  CHECK(back->trusted_prefix_layers == 2);
  auto bad = DeploymentSpecFromJson(*ParseJson(R"({"name":"x","model":"m","colour":"red"})"));
  CHECK(bad.status().message().find("colour") != std::string::npos);
  CHECK(!DeploymentSpecFromJson(*ParseJson(R"({"name":"x","model":"m","objective":"fastest"})")).ok());
  CHECK(!DeploymentSpecFromJson(*ParseJson(R"({"name":"x","model":"m","max_stages":1.5})")).ok());
}

TEST_CASE("policy settings round-trip and keep unspecified keys") {
  PolicySettings p;
  p.cooldown = std::chrono::seconds(7);
  auto back = PolicyFromJson(boost::json::value(PolicyToJson(p)), PolicySettings{});
  REQUIRE(back.ok());
  CHECK(back->cooldown == p.cooldown);
  auto partial = PolicyFromJson(*ParseJson(R"({"horizon_s": 99})"), p);
  REQUIRE(partial.ok());
  CHECK(partial->horizon_s == 99);
  CHECK(partial->cooldown == p.cooldown);
  CHECK(!PolicyFromJson(*ParseJson(R"({"horizon_s": -1})"), p).ok());
}

TEST_CASE("JSON tensors are validated before allocation and round-trip") {
  auto t = TensorFromJson(*ParseJson(R"({"dtype":"int64","shape":[1,3],"data":[1,2,3]})"), 1 << 20);
  REQUIRE(t.ok());
  int64_t x;
  std::memcpy(&x, t->data + 16, 8);
  CHECK(x == 3);
  auto j = TensorToJson(*t);
  auto back = TensorFromJson(boost::json::value(j), 1 << 20);
  REQUIRE(back.ok());
  CHECK(back->SameBytes(*t));
  CHECK(!TensorFromJson(*ParseJson(R"({"dtype":"int64","shape":[1,3],"data":[1,2]})"), 1 << 20).ok());
  CHECK(!TensorFromJson(*ParseJson(R"({"dtype":"bogus","shape":[1],"data":[1]})"), 1 << 20).ok());
  CHECK(!TensorFromJson(*ParseJson(R"({"dtype":"float32","shape":[100000000,100000],"data":[]})"), 1 << 20).ok());
  CHECK(!TensorFromJson(*ParseJson(R"({"dtype":"float32","shape":[-1],"data":[]})"), 1 << 20).ok());
}
