// Planning instances (orchestrator/planner/instance_yaml.cc), as `edgesplitctl plan --instance`
// reads them. An instance that parses is valid, so the planner must plan it (small ones here,
// with a small budget) without crashing, and it must survive PlanningInstanceToYaml -> parse.
#include <cstdio>
#include <cstdlib>

#include "orchestrator/planner/instance_yaml.h"
#include "orchestrator/planner/plan_json.h"
#include "orchestrator/planner/planner.h"

using namespace edgesplit;
using namespace edgesplit::planner;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto inst = ParsePlanningInstanceYaml(std::string(reinterpret_cast<const char*>(data), size));
  if (!inst.ok()) return 0;
  const std::string yaml = PlanningInstanceToYaml(*inst);
  auto again = ParsePlanningInstanceYaml(yaml);
  if (!again.ok() || PlanningInstanceToYaml(*again) != yaml) {
    std::fprintf(stderr, "instance round trip failed: %s\n%s\n",
                 again.ok() ? "text differs" : again.status().ToString().c_str(), yaml.c_str());
    std::abort();
  }
  if (inst->model.layers.size() <= 12 && inst->nodes.size() <= 6) {
    PlannerOptions o;
    o.time_limit_ms = 2;  // iteration budgets only (no clock): deterministic
    (void)PlanResultToJson(Plan(*inst, o));
  }
  return 0;
}
