#include "orchestrator/planner/plan_json.h"

#include <cmath>
#include <cstdio>

#include "common/base/json_escape.h"

namespace edgesplit::planner {
namespace {

std::string Num(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6f", x);
  // Trim trailing zeros for readability; keep at least one digit after the point.
  std::string s(buf);
  while (s.size() > 2 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}

}  // namespace

std::string PlanResultToJson(const PlanResult& r, bool include_migration) {
  std::string j = "{\"status\": " + JsonQuote(PlanStatusName(r.status)) + ", \"objective\": " +
                  JsonQuote(ObjectiveKindName(r.objective)) + ", \"value\": " + Num(r.value) +
                  ", \"latency_ms\": " + Num(r.latency_ms) + ", \"period_ms\": " + Num(r.period_ms) +
                  ", \"lower_bound\": " + Num(r.lower_bound) + ", \"stages\": [";
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const auto& s = r.stages[i];
    j += (i ? ", " : "") + std::string("{\"node\": ") + JsonQuote(s.node) + ", \"first_layer\": " +
         std::to_string(s.first_layer) + ", \"end_layer\": " + std::to_string(s.end_layer) + "}";
  }
  j += "], \"solve_ms\": " + Num(r.solve_ms);
  if (include_migration) j += ", \"migration_ms\": " + Num(r.migration_ms) + std::string(", \"kept_current\": ") + (r.kept_current ? "true" : "false");
  if (r.status == PlanStatus::kInfeasible) j += ", \"reason\": " + JsonQuote(r.reason);
  return j + "}";
}

}  // namespace edgesplit::planner
