#include <catch.hpp>

#include "orchestrator/planner/plan_json.h"

using namespace edgesplit::planner;

TEST_CASE("plan JSON has exactly the DESIGN.md keys", "[planner]") {
  PlanResult r;
  r.status = PlanStatus::kOptimal;
  r.objective = ObjectiveKind::kPeriod;
  r.value = 2.5;
  r.latency_ms = 10.25;
  r.period_ms = 2.5;
  r.lower_bound = 2.5;
  r.stages = {{"gw-1", 0, 6}, {"gpu \"2\"", 6, 12}};
  r.solve_ms = 1.5;
  CHECK(PlanResultToJson(r) ==
        "{\"status\": \"optimal\", \"objective\": \"period\", \"value\": 2.5, \"latency_ms\": 10.25, "
        "\"period_ms\": 2.5, \"lower_bound\": 2.5, \"stages\": [{\"node\": \"gw-1\", \"first_layer\": 0, "
        "\"end_layer\": 6}, {\"node\": \"gpu \\\"2\\\"\", \"first_layer\": 6, \"end_layer\": 12}], \"solve_ms\": 1.5}");
}

TEST_CASE("infeasible plans carry the reason and null values", "[planner]") {
  PlanResult r;
  r.reason = "no trusted node can hold layers 0-1";
  const std::string j = PlanResultToJson(r);
  CHECK(j.find("\"status\": \"infeasible\"") != std::string::npos);
  CHECK(j.find("\"value\": null") != std::string::npos);
  CHECK(j.find("\"reason\": \"no trusted node can hold layers 0-1\"") != std::string::npos);
}
