#include "orchestrator/trace/trace_spec.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "orchestrator/trace/yaml_map.h"

namespace edgesplit::trace {
namespace {

// Limits in messages: 3600, 0.5 (no trailing zeros).
std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string Item(const std::string& list, size_t i) { return list + "[" + std::to_string(i) + "]"; }

// A number in (0, max]; `def` when absent (required without one).
Result<double> Positive(const YamlMap& m, const std::string& key, std::optional<double> def, double max) {
  ES_ASSIGN_OR_RETURN(double v, m.Number(key, def));
  if (!(v > 0)) return InvalidArgument(m.PathOf(key) + ": must be > 0");
  if (v > max) return InvalidArgument(m.PathOf(key) + ": must be <= " + Fmt(max));
  return v;
}

constexpr double kNoMax = 1e300;

bool IsNodeName(const std::string& s) {
  return !s.empty() && s.size() <= 32 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// The deployment name rule of the orchestrator (DeploymentSpec::Validate), so a model named
// here is one the REST API accepts.
bool IsModelName(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
         });
}

Result<TraceLoad> ParseLoad(const YAML::Node& n) {
  ES_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Open(n, "load"));
  ES_RETURN_IF_ERROR(m.AllowOnly({"rps", "streams"}));
  TraceLoad load;
  ES_ASSIGN_OR_RETURN(load.rps, Positive(m, "rps", std::nullopt, kMaxRps));
  ES_ASSIGN_OR_RETURN(int64_t streams, m.Integer("streams", 0, 0, kMaxStreams));
  load.streams = static_cast<int>(streams);
  return load;
}

Result<TraceNode> ParseNode(const YAML::Node& n, const std::string& path) {
  ES_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Open(n, path));
  ES_RETURN_IF_ERROR(m.AllowOnly({"name", "speed", "trusted", "uplink_mbps", "downlink_mbps"}));
  TraceNode node;
  ES_ASSIGN_OR_RETURN(node.name, m.String("name"));
  if (!IsNodeName(node.name))
    return InvalidArgument(m.PathOf("name") + ": " + QuoteForError(node.name) + " must be 1-32 characters of [a-z0-9-]");
  ES_ASSIGN_OR_RETURN(node.speed, Positive(m, "speed", 1.0, kMaxSpeed));
  ES_ASSIGN_OR_RETURN(node.trusted, m.Bool("trusted", false));
  for (auto [key, dst] : {std::pair{"uplink_mbps", &node.uplink_mbps}, {"downlink_mbps", &node.downlink_mbps}}) {
    if (!m.Has(key)) continue;
    ES_ASSIGN_OR_RETURN(double mbps, Positive(m, key, std::nullopt, kNoMax));
    *dst = mbps;
  }
  return node;
}

const TraceNode* FindNode(const std::vector<TraceNode>& nodes, const std::string& name) {
  for (const auto& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

Result<TraceDeployment> ParseDeployment(const YAML::Node& n, const std::vector<TraceNode>& nodes) {
  ES_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Open(n, "deployment"));
  ES_RETURN_IF_ERROR(m.AllowOnly({"model", "objective", "entry", "max_stages", "trusted_prefix_layers"}));
  TraceDeployment d;
  ES_ASSIGN_OR_RETURN(d.model, m.String("model"));
  if (!IsModelName(d.model))
    return InvalidArgument(m.PathOf("model") + ": " + QuoteForError(d.model) + " must be 1-64 characters of [A-Za-z0-9._-]");
  // The planner's own names (planner::ParseObjectiveKind), so the trace cannot drift from them.
  ES_ASSIGN_OR_RETURN(std::string objective, m.String("objective"));
  auto kind = planner::ParseObjectiveKind(objective);
  if (!kind.ok())
    return InvalidArgument(m.PathOf("objective") + ": " + QuoteForError(objective) + " is not one of latency, period, mixed");
  d.objective = *kind;
  if (m.Has("max_stages")) {
    ES_ASSIGN_OR_RETURN(int64_t stages, m.Integer("max_stages", std::nullopt, 1, kMaxStages));
    d.max_stages = static_cast<int>(stages);
  }
  ES_ASSIGN_OR_RETURN(int64_t prefix, m.Integer("trusted_prefix_layers", 0, 0, kMaxTrustedPrefixLayers));
  d.trusted_prefix_layers = static_cast<int>(prefix);
  // The orchestrator places the entry only on an operator-trusted node (BuildPlanningInstance):
  // a named one must be trusted, and without one some node must be.
  if (m.Has("entry")) {
    ES_ASSIGN_OR_RETURN(std::string entry, m.String("entry"));
    const TraceNode* node = FindNode(nodes, entry);
    if (!node) return InvalidArgument(m.PathOf("entry") + ": " + QuoteForError(entry) + " is not a node");
    if (!node->trusted)
      return InvalidArgument(m.PathOf("entry") + ": node " + QuoteForError(entry) +
                             " is not trusted (the orchestrator only places an entry on operator-trusted nodes)");
    d.entry = entry;
  } else if (std::none_of(nodes.begin(), nodes.end(), [](const TraceNode& x) { return x.trusted; })) {
    return InvalidArgument("deployment: no entry and no trusted node (the orchestrator places the entry on the fastest "
                           "operator-trusted node: mark one trusted: true)");
  }
  return d;
}

}  // namespace

bool IsStageTarget(const std::string& node) {
  if (node.rfind("stage:", 0) != 0 || node.size() < 7 || node.size() > 8) return false;
  const std::string k = node.substr(6);
  if (k[0] < '1' || k[0] > '9' || (k.size() == 2 && (k[1] < '0' || k[1] > '9'))) return false;
  return std::stoi(k) <= kMaxStageTarget;
}

namespace {

struct KindInfo {
  EventKind kind;
  std::set<std::string> keys;  // besides at_s and kind
};

const std::map<std::string, KindInfo>& Kinds() {
  static const std::map<std::string, KindInfo> kinds = {
      {"slow", {EventKind::kSlow, {"node", "factor"}}},
      {"restore", {EventKind::kRestore, {"node"}}},
      {"link", {EventKind::kLink, {"node", "direction", "mbps"}}},
      {"link_restore", {EventKind::kLinkRestore, {"node", "direction"}}},
      {"kill", {EventKind::kKill, {"node"}}},
      {"start", {EventKind::kStart, {"node"}}},
      {"rps", {EventKind::kRps, {"value"}}},
  };
  return kinds;
}

Result<TraceEvent> ParseEvent(const YAML::Node& n, size_t index, const TraceSpec& t) {
  ES_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Open(n, Item("events", index)));
  ES_ASSIGN_OR_RETURN(std::string kind_name, m.String("kind"));
  auto it = Kinds().find(kind_name);
  if (it == Kinds().end())
    return InvalidArgument(m.PathOf("kind") + ": " + QuoteForError(kind_name) +
                           " is not one of slow, restore, link, link_restore, kill, start, rps");
  const KindInfo& info = it->second;
  for (const auto& k : m.keys()) {
    if (k == "at_s" || k == "kind" || info.keys.count(k)) continue;
    const bool other_kind = std::any_of(Kinds().begin(), Kinds().end(), [&](const auto& e) { return e.second.keys.count(k) > 0; });
    if (other_kind)
      return InvalidArgument(m.path() + ": key " + QuoteForError(k) + " does not belong to kind " + QuoteForError(kind_name));
    return InvalidArgument(m.path() + ": unknown key " + QuoteForError(k));
  }
  TraceEvent e;
  e.index = index;
  e.kind = info.kind;
  ES_ASSIGN_OR_RETURN(e.at_s, m.Number("at_s"));
  if (!(e.at_s >= 0 && e.at_s < t.duration_s))
    return InvalidArgument(m.PathOf("at_s") + ": must be >= 0 and < duration_s (" + Fmt(t.duration_s) + ")");
  if (info.keys.count("node")) {
    ES_ASSIGN_OR_RETURN(e.node, m.String("node"));
    if (!FindNode(t.nodes, e.node) && !IsStageTarget(e.node))
      return InvalidArgument(m.PathOf("node") + ": " + QuoteForError(e.node) + " is not a node (nor stage:1 to stage:" +
                             std::to_string(kMaxStageTarget) + ", the node of that stage of the plan)");
  }
  switch (e.kind) {
    case EventKind::kSlow: {
      ES_ASSIGN_OR_RETURN(e.factor, Positive(m, "factor", std::nullopt, kMaxSpeed));
      break;
    }
    case EventKind::kLink:
    case EventKind::kLinkRestore: {
      const bool restore = e.kind == EventKind::kLinkRestore;
      ES_ASSIGN_OR_RETURN(std::string dir, restore ? m.String("direction", "both") : m.String("direction"));
      if (dir == "up") {
        e.direction = LinkDirection::kUp;
      } else if (dir == "down") {
        e.direction = LinkDirection::kDown;
      } else if (dir == "both" && restore) {
        e.direction = LinkDirection::kBoth;
      } else {
        return InvalidArgument(m.PathOf("direction") + ": " + QuoteForError(dir) + " must be " +
                               (restore ? "up, down or both" : "up or down"));
      }
      if (!restore) {
        ES_ASSIGN_OR_RETURN(e.mbps, Positive(m, "mbps", std::nullopt, kNoMax));
      }
      break;
    }
    case EventKind::kRps: {
      ES_ASSIGN_OR_RETURN(e.value, Positive(m, "value", std::nullopt, kMaxRps));
      break;
    }
    default:
      break;
  }
  return e;
}

// A stage target ("stage:K") is resolved when its fault fires, to whichever node runs stage K
// of the plan then; its undo (restore, link_restore, start) hits the node the fault hit. So a
// target must be faulted before it is undone, and not faulted twice in a row by the same kind.
Status CheckStageTargets(const TraceSpec& t) {
  std::map<std::string, std::set<EventKind>> open;  // target -> faults not yet undone
  for (const auto& e : t.events) {
    if (e.kind == EventKind::kRps || !IsStageTarget(e.node)) continue;
    const std::string where = Item("events", e.index) + ".node: " + QuoteForError(e.node);
    auto& faults = open[e.node];
    const EventKind fault = e.kind == EventKind::kRestore ? EventKind::kSlow
                            : e.kind == EventKind::kLinkRestore ? EventKind::kLink
                            : e.kind == EventKind::kStart ? EventKind::kKill : e.kind;
    if (fault != e.kind) {
      if (!faults.count(fault))
        return InvalidArgument(where + ": " + EventKindName(e.kind) + " before any " + EventKindName(fault) +
                               " of that target (a stage target's undo hits the node its fault hit)");
      if (e.kind != EventKind::kLinkRestore || e.direction == LinkDirection::kBoth) faults.erase(fault);
      continue;
    }
    if (e.kind == EventKind::kKill && faults.count(EventKind::kKill))
      return InvalidArgument(where + ": killed again before its start");
    faults.insert(fault);
  }
  return Status::Ok();
}

// Replays the node faults in time order: a fault hits only a running node, kill only a running
// node, start only a killed one, and the entry (the client-facing endpoint) is never killed.
// Stage targets are checked by CheckStageTargets (their nodes are known only when they fire).
Status CheckTimeline(const TraceSpec& t) {
  ES_RETURN_IF_ERROR(CheckStageTargets(t));
  std::map<std::string, bool> running;
  for (const auto& n : t.nodes) running[n.name] = true;
  for (const auto& e : t.events) {
    if (e.kind == EventKind::kRps || IsStageTarget(e.node)) continue;
    const std::string where = Item("events", e.index) + ".node: " + QuoteForError(e.node);
    const std::string when = " at " + Fmt(e.at_s) + " s";
    if (e.kind == EventKind::kStart) {
      if (running[e.node]) return InvalidArgument(where + " is running" + when + " (start only a killed node)");
      running[e.node] = true;
      continue;
    }
    if (!running[e.node])
      return InvalidArgument(where + " is killed" + when + " (" + EventKindName(e.kind) + " needs a running node)");
    if (e.kind != EventKind::kKill) continue;
    if (t.deployment.entry && e.node == *t.deployment.entry)
      return InvalidArgument(where + " is the entry, which holds the client-facing endpoint: it must not be killed");
    running[e.node] = false;
    const bool trusted_left = std::any_of(t.nodes.begin(), t.nodes.end(), [&](const TraceNode& n) { return n.trusted && running[n.name]; });
    if (!trusted_left)
      return InvalidArgument(where + ": killing it" + when + " leaves no trusted node running (the entry needs one)");
  }
  return Status::Ok();
}

Result<TraceSpec> ParseRoot(const YAML::Node& root) {
  ES_ASSIGN_OR_RETURN(YamlMap m, YamlMap::Open(root, ""));
  ES_RETURN_IF_ERROR(m.AllowOnly({"duration_s", "slo_ms", "load", "periodic_s", "nodes", "deployment", "events"}));
  TraceSpec t;
  ES_ASSIGN_OR_RETURN(t.duration_s, Positive(m, "duration_s", std::nullopt, kMaxDurationS));
  ES_ASSIGN_OR_RETURN(t.slo_ms, Positive(m, "slo_ms", std::nullopt, kNoMax));
  ES_ASSIGN_OR_RETURN(t.load, ParseLoad(m.Get("load")));
  ES_ASSIGN_OR_RETURN(t.periodic_s, Positive(m, "periodic_s", 60.0, kNoMax));

  const YAML::Node nodes = m.Get("nodes");
  if (!nodes.IsDefined()) return InvalidArgument("nodes: missing (a list of 1 to 16 nodes)");
  if (!nodes.IsSequence()) return InvalidArgument("nodes: expected a list");
  if (nodes.size() < 1 || nodes.size() > kMaxNodes)
    return InvalidArgument("nodes: must list 1 to " + std::to_string(kMaxNodes) + " nodes, not " + std::to_string(nodes.size()));
  for (size_t i = 0; i < nodes.size(); ++i) {
    ES_ASSIGN_OR_RETURN(TraceNode node, ParseNode(nodes[i], Item("nodes", i)));
    if (FindNode(t.nodes, node.name))
      return InvalidArgument(Item("nodes", i) + ".name: duplicate node " + QuoteForError(node.name));
    t.nodes.push_back(std::move(node));
  }
  ES_ASSIGN_OR_RETURN(t.deployment, ParseDeployment(m.Get("deployment"), t.nodes));

  // `events:` with every entry commented out is null: no events, like [].
  const YAML::Node events = m.Get("events");
  if (events.IsDefined() && !events.IsNull()) {
    if (!events.IsSequence()) return InvalidArgument("events: expected a list");
    if (events.size() > kMaxEvents)
      return InvalidArgument("events: at most " + std::to_string(kMaxEvents) + " events, not " + std::to_string(events.size()));
    for (size_t i = 0; i < events.size(); ++i) {
      ES_ASSIGN_OR_RETURN(TraceEvent e, ParseEvent(events[i], i, t));
      t.events.push_back(std::move(e));
    }
  }
  std::stable_sort(t.events.begin(), t.events.end(), [](const TraceEvent& a, const TraceEvent& b) { return a.at_s < b.at_s; });
  ES_RETURN_IF_ERROR(CheckTimeline(t));
  return t;
}

}  // namespace

Result<TraceSpec> ParseTrace(const std::string& yaml_text) {
  if (yaml_text.size() > kMaxTraceBytes)
    return InvalidArgument("trace: larger than " + std::to_string(kMaxTraceBytes) + " bytes");
  Result<TraceSpec> r = InvalidArgument("unset");
  try {
    r = ParseRoot(YAML::Load(yaml_text));
  } catch (const YAML::Exception& e) {
    const std::string at =
        e.mark.is_null() ? "" : "line " + std::to_string(e.mark.line + 1) + ", column " + std::to_string(e.mark.column + 1) + ": ";
    return InvalidArgument("trace: not valid YAML: " + at + e.msg);
  } catch (const std::exception& e) {
    return Internal("trace: " + std::string(e.what()));
  }
  if (!r.ok()) return InvalidArgument("trace: " + r.status().message());
  return r;
}

Result<TraceSpec> LoadTrace(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("trace: cannot read " + QuoteForError(path));
  // Read one byte past the limit instead of trusting the size a stat reports: a pipe or a
  // growing file has none.
  std::string text(kMaxTraceBytes + 1, '\0');
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (f.bad()) return NotFound("trace: cannot read " + QuoteForError(path));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxTraceBytes)
    return InvalidArgument("trace: " + QuoteForError(path) + " is larger than " + std::to_string(kMaxTraceBytes) +
                           " bytes (1 MiB)");
  return ParseTrace(text);
}

}  // namespace edgesplit::trace
