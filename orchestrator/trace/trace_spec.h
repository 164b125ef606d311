// The adaptation trace (docs/trace.md): a testbed cluster, the deployment to run on it, a load
// and timed faults, which scripts/trace.sh replays. ParseTrace validates everything a replay
// relies on, so the script never meets a half-valid trace; TraceToJson hands it the normalised
// form (defaults filled in, events in time order). Plain value types; everything but LoadTrace
// is pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "orchestrator/planner/instance.h"

namespace edgesplit::trace {

inline constexpr size_t kMaxTraceBytes = 1 << 20;  // a trace is a page of YAML; more is a mistake
inline constexpr double kMaxDurationS = 3600;
inline constexpr double kMaxRps = 1000;
inline constexpr int kMaxStreams = 16;
inline constexpr size_t kMaxNodes = 16;
inline constexpr size_t kMaxEvents = 1000;
inline constexpr double kMaxSpeed = 100;       // also the largest slow factor
inline constexpr int kMaxStages = 16;
inline constexpr int kMaxTrustedPrefixLayers = 1000000;  // the REST API's layer bound

struct TraceLoad {
  double rps = 0;   // requests per second
  int streams = 0;  // concurrent generation streams
};

struct TraceNode {
  std::string name;  // [a-z0-9-]{1,32}, unique
  double speed = 1.0;  // compute speed relative to the machine: the script slows it by 1/speed
  bool trusted = false;  // trusted by the operator (may hold the entry and the trusted prefix)
  std::optional<double> uplink_mbps;    // unset: unshaped
  std::optional<double> downlink_mbps;  // unset: unshaped
};

struct TraceDeployment {
  std::string model;
  planner::ObjectiveKind objective = planner::ObjectiveKind::kLatency;
  std::optional<std::string> entry;  // unset: the orchestrator picks the fastest trusted node
  std::optional<int> max_stages;     // unset: no limit
  int trusted_prefix_layers = 0;
};

enum class EventKind { kSlow, kRestore, kLink, kLinkRestore, kKill, kStart, kRps };
enum class LinkDirection { kUp, kDown, kBoth };

const char* EventKindName(EventKind kind);          // "slow", "link_restore", ...
const char* LinkDirectionName(LinkDirection dir);   // "up" | "down" | "both"

// A node target "stage:K" (K in 1..kMaxStageTarget): the node running stage K of the plan when
// the fault fires (the last stage when the plan has fewer), so faults follow each policy's
// plan; its restore/link_restore/start hits the node the fault hit (docs/trace.md).
inline constexpr int kMaxStageTarget = 16;
bool IsStageTarget(const std::string& node);

// One fault or load change. Only the fields of its kind are meaningful.
struct TraceEvent {
  double at_s = 0;  // seconds from the start of the trace, in [0, duration_s)
  EventKind kind = EventKind::kSlow;
  std::string node;    // every kind but rps
  double factor = 0;   // slow: compute slowdown factor
  LinkDirection direction = LinkDirection::kBoth;  // link: up|down; link_restore: up|down|both
  double mbps = 0;     // link
  double value = 0;    // rps: the new request rate
  size_t index = 0;    // position in the file's events list (errors name it: events[3])
};

struct TraceSpec {
  double duration_s = 0;
  double slo_ms = 0;  // per request
  TraceLoad load;
  double periodic_s = 60;  // period of the `periodic` baseline policy
  std::vector<TraceNode> nodes;
  TraceDeployment deployment;
  std::vector<TraceEvent> events;  // sorted by at_s, ties in file order
};

// Parses and validates a trace. InvalidArgument with one message naming the key path, e.g.
// `trace: events[3].mbps: must be > 0`.
Result<TraceSpec> ParseTrace(const std::string& yaml_text);
// Reads `path` (refusing more than kMaxTraceBytes before parsing) and parses it. NotFound when
// the file cannot be read.
Result<TraceSpec> LoadTrace(const std::string& path);
// The normalised trace as one JSON object: the YAML's keys, every default filled in (an unset
// optional is null), events sorted, and per node "slowdown" = 1 / speed.
std::string TraceToJson(const TraceSpec& trace);

}  // namespace edgesplit::trace
