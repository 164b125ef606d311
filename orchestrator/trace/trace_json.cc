// TraceToJson and the enum names. Boost.JSON writes every double in exponent form (180 as
// 1.8E2), which a shell script reading the output would trip over: whole numbers go out as
// integers.
#include <cmath>

#include <boost/json.hpp>

#include "orchestrator/trace/trace_spec.h"

namespace edgesplit::trace {
namespace json = boost::json;
namespace {

json::value Num(double v) {
  if (v == std::floor(v) && std::fabs(v) < 9.0e15) return static_cast<int64_t>(v);
  return v;
}

json::value OptNum(const std::optional<double>& v) { return v ? Num(*v) : json::value(nullptr); }

json::object EventJson(const TraceEvent& e) {
  json::object o{{"at_s", Num(e.at_s)}, {"kind", EventKindName(e.kind)}};
  switch (e.kind) {
    case EventKind::kSlow:
      o["node"] = e.node;
      o["factor"] = Num(e.factor);
      break;
    case EventKind::kLink:
      o["node"] = e.node;
      o["direction"] = LinkDirectionName(e.direction);
      o["mbps"] = Num(e.mbps);
      break;
    case EventKind::kLinkRestore:
      o["node"] = e.node;
      o["direction"] = LinkDirectionName(e.direction);
      break;
    case EventKind::kRps:
      o["value"] = Num(e.value);
      break;
    case EventKind::kRestore:
    case EventKind::kKill:
    case EventKind::kStart:
      o["node"] = e.node;
      break;
  }
  return o;
}

}  // namespace

const char* EventKindName(EventKind kind) {
  switch (kind) {
    case EventKind::kSlow: return "slow";
    case EventKind::kRestore: return "restore";
    case EventKind::kLink: return "link";
    case EventKind::kLinkRestore: return "link_restore";
    case EventKind::kKill: return "kill";
    case EventKind::kStart: return "start";
    case EventKind::kRps: return "rps";
  }
  return "?";
}

const char* LinkDirectionName(LinkDirection dir) {
  switch (dir) {
    case LinkDirection::kUp: return "up";
    case LinkDirection::kDown: return "down";
    case LinkDirection::kBoth: return "both";
  }
  return "?";
}

std::string TraceToJson(const TraceSpec& t) {
  json::array nodes;
  for (const auto& n : t.nodes) {
    nodes.push_back(json::object{{"name", n.name},
                                 {"speed", Num(n.speed)},
                                 {"slowdown", Num(1.0 / n.speed)},
                                 {"trusted", n.trusted},
                                 {"uplink_mbps", OptNum(n.uplink_mbps)},
                                 {"downlink_mbps", OptNum(n.downlink_mbps)}});
  }
  const TraceDeployment& d = t.deployment;
  json::object deployment{
      {"model", d.model},
      {"objective", planner::ObjectiveKindName(d.objective)},
      {"entry", d.entry ? json::value(*d.entry) : json::value(nullptr)},
      {"max_stages", d.max_stages ? json::value(*d.max_stages) : json::value(nullptr)},
      {"trusted_prefix_layers", d.trusted_prefix_layers}};
  json::array events;
  for (const auto& e : t.events) events.push_back(EventJson(e));
  json::object o{{"duration_s", Num(t.duration_s)},
                 {"slo_ms", Num(t.slo_ms)},
                 {"load", json::object{{"rps", Num(t.load.rps)}, {"streams", t.load.streams}}},
                 {"periodic_s", Num(t.periodic_s)},
                 {"nodes", std::move(nodes)},
                 {"deployment", std::move(deployment)},
                 {"events", std::move(events)}};
  return json::serialize(o);
}

}  // namespace edgesplit::trace
