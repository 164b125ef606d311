#include "orchestrator/planner/plan_json.h"

#include <cmath>
#include <cstdio>

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

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string PlanResultToJson(const PlanResult& r, bool include_migration) {
  std::string j = "{\"status\": " + Quote(PlanStatusName(r.status)) + ", \"objective\": " +
                  Quote(ObjectiveKindName(r.objective)) + ", \"value\": " + Num(r.value) +
                  ", \"latency_ms\": " + Num(r.latency_ms) + ", \"period_ms\": " + Num(r.period_ms) +
                  ", \"lower_bound\": " + Num(r.lower_bound) + ", \"stages\": [";
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const auto& s = r.stages[i];
    j += (i ? ", " : "") + std::string("{\"node\": ") + Quote(s.node) + ", \"first_layer\": " +
         std::to_string(s.first_layer) + ", \"end_layer\": " + std::to_string(s.end_layer) + "}";
  }
  j += "], \"solve_ms\": " + Num(r.solve_ms);
  if (include_migration) j += ", \"migration_ms\": " + Num(r.migration_ms) + std::string(", \"kept_current\": ") + (r.kept_current ? "true" : "false");
  if (r.status == PlanStatus::kInfeasible) j += ", \"reason\": " + Quote(r.reason);
  return j + "}";
}

}  // namespace edgesplit::planner
