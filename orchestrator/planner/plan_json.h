// JSON output of a plan, exactly the object of DESIGN.md ("Planning problem"):
// {"status", "objective", "value", "latency_ms", "period_ms", "lower_bound", "stages",
//  "solve_ms"} plus "migration_ms" when re-planning and "reason" when infeasible.
// Non-finite numbers are written as null.
#pragma once

#include <string>

#include "orchestrator/planner/planner.h"

namespace edgesplit::planner {

std::string PlanResultToJson(const PlanResult& result, bool include_migration = false);

}  // namespace edgesplit::planner
