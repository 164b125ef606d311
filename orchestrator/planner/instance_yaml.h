// YAML adapter for planning instances (DESIGN.md "Planning problem" plus the re-planning keys
// current_plan and migration, docs/planner.md). Unknown keys are errors; every error names its
// key path (e.g. "links.pairs[2].bandwidth_mbps: must be > 0"). yaml-cpp exceptions stop here.
#pragma once

#include <string>

#include "common/base/status.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::planner {

// Parses and validates (ValidateInstance) an instance; kInvalidArgument names the bad key.
Result<PlanningInstance> ParsePlanningInstanceYaml(const std::string& text);
// Reads `path` and parses it; kNotFound when the file cannot be read.
Result<PlanningInstance> LoadPlanningInstanceFile(const std::string& path);
// Writes an instance back as YAML (round-trips through ParsePlanningInstanceYaml).
std::string PlanningInstanceToYaml(const PlanningInstance& instance);

}  // namespace edgesplit::planner
