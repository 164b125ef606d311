#include "orchestrator/planner/instance_yaml.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

namespace edgesplit::planner {
namespace {

// Parse errors carry the key path; thrown inside this file only and turned into a Status.
struct KeyError {
  std::string message;
};

[[noreturn]] void Fail(const std::string& path, const std::string& what, const YAML::Node& n = YAML::Node()) {
  std::string where;
  if (n.IsDefined() && n.Mark().line >= 0) where = " (line " + std::to_string(n.Mark().line + 1) + ")";
  throw KeyError{path + ": " + what + where};
}

void CheckKeys(const YAML::Node& n, const std::string& path, const std::set<std::string>& allowed) {
  if (!n.IsMap()) Fail(path.empty() ? "instance" : path, "expected a mapping", n);
  for (const auto& kv : n) {
    const std::string k = kv.first.as<std::string>();
    if (!allowed.count(k)) Fail(path.empty() ? k : path + "." + k, "unknown key", kv.first);
  }
}

std::string Join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

double Num(const YAML::Node& parent, const std::string& path, const std::string& key, std::optional<double> def) {
  const YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (def) return *def;
    Fail(Join(path, key), "missing (a number)", parent);
  }
  if (!n.IsScalar()) Fail(Join(path, key), "expected a number", n);
  double v;
  try {
    v = n.as<double>();
  } catch (const YAML::Exception&) {
    Fail(Join(path, key), "expected a number, got '" + n.Scalar() + "'", n);
  }
  if (!std::isfinite(v)) Fail(Join(path, key), "must be finite", n);
  return v;
}

long long Int(const YAML::Node& parent, const std::string& path, const std::string& key, long long def) {
  const YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) return def;
  try {
    return n.as<long long>();
  } catch (const YAML::Exception&) {
    Fail(Join(path, key), "expected an integer, got '" + (n.IsScalar() ? n.Scalar() : std::string("?")) + "'", n);
  }
}

// An integer that fits an int (layer indices, counts): 4294967297 is an error, not 1.
int SmallInt(const YAML::Node& parent, const std::string& path, const std::string& key, int def) {
  const long long v = Int(parent, path, key, def);
  if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
    Fail(Join(path, key), "integer " + std::to_string(v) + " is out of range", parent[key]);
  return static_cast<int>(v);
}

std::string Str(const YAML::Node& parent, const std::string& path, const std::string& key, std::optional<std::string> def) {
  const YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (def) return *def;
    Fail(Join(path, key), "missing (a string)", parent);
  }
  if (!n.IsScalar()) Fail(Join(path, key), "expected a string", n);
  return n.Scalar();
}

bool Bool(const YAML::Node& parent, const std::string& path, const std::string& key, bool def) {
  const YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) return def;
  try {
    return n.as<bool>();
  } catch (const YAML::Exception&) {
    Fail(Join(path, key), "expected true or false", n);
  }
}

YAML::Node Seq(const YAML::Node& parent, const std::string& path, const std::string& key, bool required) {
  const YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) {
    if (required) Fail(Join(path, key), "missing (a list)", parent);
    return YAML::Node(YAML::NodeType::Sequence);
  }
  if (!n.IsSequence()) Fail(Join(path, key), "expected a list", n);
  return n;
}

LinkSpec ParseLink(const YAML::Node& n, const std::string& path) {
  return {Num(n, path, "bandwidth_mbps", std::nullopt), Num(n, path, "latency_ms", 0.0)};
}

PlanningInstance ParseRoot(const YAML::Node& root) {
  PlanningInstance in;
  CheckKeys(root, "", {"model", "nodes", "links", "source", "constraints", "objective", "current_plan", "migration"});
  if (!root["model"].IsDefined()) Fail("model", "missing", root);
  const YAML::Node model = root["model"];
  CheckKeys(model, "model", {"name", "input_bytes", "layers", "kv_reserve_tokens"});
  in.model.name = Str(model, "model", "name", "");
  in.model.input_bytes = Num(model, "model", "input_bytes", 0.0);
  in.model.kv_reserve_tokens = Num(model, "model", "kv_reserve_tokens", 0.0);
  const YAML::Node layers = Seq(model, "model", "layers", true);
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string p = "model.layers[" + std::to_string(i) + "]";
    CheckKeys(layers[i], p, {"name", "compute_ms", "param_bytes", "output_bytes", "state_bytes_per_token"});
    in.model.layers.push_back({Str(layers[i], p, "name", "layer" + std::to_string(i)),
                               Num(layers[i], p, "compute_ms", std::nullopt), Num(layers[i], p, "param_bytes", 0.0),
                               Num(layers[i], p, "output_bytes", 0.0), Num(layers[i], p, "state_bytes_per_token", 0.0)});
  }
  const YAML::Node nodes = Seq(root, "", "nodes", true);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string p = "nodes[" + std::to_string(i) + "]";
    CheckKeys(nodes[i], p, {"name", "speed", "memory_bytes", "trusted", "compute_ms", "uplink_mbps", "downlink_mbps"});
    NodeSpec s;
    s.name = Str(nodes[i], p, "name", std::nullopt);
    s.speed = Num(nodes[i], p, "speed", 1.0);
    s.memory_bytes = Num(nodes[i], p, "memory_bytes", std::nullopt);
    s.trusted = Bool(nodes[i], p, "trusted", false);
    s.uplink_mbps = Num(nodes[i], p, "uplink_mbps", 0.0);
    s.downlink_mbps = Num(nodes[i], p, "downlink_mbps", 0.0);
    const YAML::Node cm = Seq(nodes[i], p, "compute_ms", false);
    for (size_t l = 0; l < cm.size(); ++l) {
      try {
        s.compute_ms.push_back(cm[l].as<double>());
      } catch (const YAML::Exception&) {
        Fail(p + ".compute_ms[" + std::to_string(l) + "]", "expected a number", cm[l]);
      }
    }
    in.nodes.push_back(std::move(s));
  }
  if (const YAML::Node links = root["links"]; links.IsDefined() && !links.IsNull()) {
    CheckKeys(links, "links", {"default", "pairs"});
    if (links["default"].IsDefined() && !links["default"].IsNull()) {
      CheckKeys(links["default"], "links.default", {"bandwidth_mbps", "latency_ms"});
      in.links.default_link = ParseLink(links["default"], "links.default");
    }
    const YAML::Node pairs = Seq(links, "links", "pairs", false);
    for (size_t i = 0; i < pairs.size(); ++i) {
      const std::string p = "links.pairs[" + std::to_string(i) + "]";
      CheckKeys(pairs[i], p, {"from", "to", "bandwidth_mbps", "latency_ms", "symmetric"});
      in.links.pairs.push_back({Str(pairs[i], p, "from", std::nullopt), Str(pairs[i], p, "to", std::nullopt),
                                ParseLink(pairs[i], p), Bool(pairs[i], p, "symmetric", true)});
    }
  }
  in.source = Str(root, "", "source", std::nullopt);
  if (const YAML::Node c = root["constraints"]; c.IsDefined() && !c.IsNull()) {
    CheckKeys(c, "constraints", {"trusted_prefix_layers", "max_stages", "pinned", "max_period_ms"});
    in.constraints.trusted_prefix_layers = SmallInt(c, "constraints", "trusted_prefix_layers", 0);
    in.constraints.max_stages = SmallInt(c, "constraints", "max_stages", 0);
    in.constraints.max_period_ms = Num(c, "constraints", "max_period_ms", 0.0);
    if (const YAML::Node pin = c["pinned"]; pin.IsDefined() && !pin.IsNull()) {
      if (!pin.IsMap()) Fail("constraints.pinned", "expected a mapping {layer: node}", pin);
      for (const auto& kv : pin) {
        int layer;
        try {
          layer = kv.first.as<int>();
        } catch (const YAML::Exception&) {
          Fail("constraints.pinned", "key '" + kv.first.Scalar() + "' is not a layer index", kv.first);
        }
        if (!kv.second.IsScalar()) Fail("constraints.pinned[" + std::to_string(layer) + "]", "expected a node name", kv.second);
        in.constraints.pinned[layer] = kv.second.Scalar();
      }
    }
  }
  if (const YAML::Node o = root["objective"]; o.IsDefined() && !o.IsNull()) {
    CheckKeys(o, "objective", {"kind", "alpha", "beta"});
    auto kind = ParseObjectiveKind(Str(o, "objective", "kind", "latency"));
    if (!kind.ok()) Fail("objective.kind", "'" + Str(o, "objective", "kind", "") + "' is not one of latency, period, mixed", o);
    in.objective.kind = *kind;
    in.objective.alpha = Num(o, "objective", "alpha", 1.0);
    in.objective.beta = Num(o, "objective", "beta", 1.0);
  }
  if (const YAML::Node cp = root["current_plan"]; cp.IsDefined() && !cp.IsNull()) {
    CheckKeys(cp, "current_plan", {"stages"});
    CurrentPlan plan;
    const YAML::Node st = Seq(cp, "current_plan", "stages", true);
    for (size_t i = 0; i < st.size(); ++i) {
      const std::string p = "current_plan.stages[" + std::to_string(i) + "]";
      CheckKeys(st[i], p, {"node", "first_layer", "end_layer"});
      plan.stages.push_back({Str(st[i], p, "node", std::nullopt), SmallInt(st[i], p, "first_layer", -1),
                             SmallInt(st[i], p, "end_layer", -1)});
    }
    in.current_plan = std::move(plan);
  }
  if (const YAML::Node mg = root["migration"]; mg.IsDefined() && !mg.IsNull()) {
    CheckKeys(mg, "migration", {"weight_fetch_mbps", "horizon_requests"});
    MigrationOptions m;
    m.weight_fetch_mbps = Num(mg, "migration", "weight_fetch_mbps", m.weight_fetch_mbps);
    m.horizon_requests = Num(mg, "migration", "horizon_requests", m.horizon_requests);
    in.migration = m;
  }
  return in;
}

}  // namespace

Result<PlanningInstance> ParsePlanningInstanceYaml(const std::string& text) {
  PlanningInstance in;
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull()) return InvalidArgument("instance: empty document");
    in = ParseRoot(root);
  } catch (const KeyError& e) {
    return InvalidArgument(e.message);
  } catch (const YAML::Exception& e) {
    return InvalidArgument("yaml: " + std::string(e.what()));
  }
  ES_RETURN_IF_ERROR(ValidateInstance(in));
  return in;
}

Result<PlanningInstance> LoadPlanningInstanceFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFound("cannot read instance file '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ParsePlanningInstanceYaml(ss.str());
}

std::string PlanningInstanceToYaml(const PlanningInstance& in) {
  YAML::Emitter e;
  e.SetDoublePrecision(17);
  e << YAML::BeginMap;
  e << YAML::Key << "model" << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value << in.model.name
    << YAML::Key << "input_bytes" << YAML::Value << in.model.input_bytes;
  if (in.model.kv_reserve_tokens != 0) e << YAML::Key << "kv_reserve_tokens" << YAML::Value << in.model.kv_reserve_tokens;
  e << YAML::Key << "layers" << YAML::Value << YAML::BeginSeq;
  for (const auto& l : in.model.layers) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << l.name << YAML::Key << "compute_ms"
      << YAML::Value << l.compute_ms << YAML::Key << "param_bytes" << YAML::Value << l.param_bytes << YAML::Key
      << "output_bytes" << YAML::Value << l.output_bytes;
    if (l.state_bytes_per_token != 0) e << YAML::Key << "state_bytes_per_token" << YAML::Value << l.state_bytes_per_token;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  e << YAML::Key << "nodes" << YAML::Value << YAML::BeginSeq;
  for (const auto& n : in.nodes) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << n.name << YAML::Key << "speed"
      << YAML::Value << n.speed << YAML::Key << "memory_bytes" << YAML::Value << n.memory_bytes << YAML::Key
      << "trusted" << YAML::Value << n.trusted;
    if (!n.compute_ms.empty()) e << YAML::Key << "compute_ms" << YAML::Value << YAML::Flow << n.compute_ms;
    if (n.uplink_mbps > 0) e << YAML::Key << "uplink_mbps" << YAML::Value << n.uplink_mbps;
    if (n.downlink_mbps > 0) e << YAML::Key << "downlink_mbps" << YAML::Value << n.downlink_mbps;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "links" << YAML::Value << YAML::BeginMap;
  if (in.links.default_link)
    e << YAML::Key << "default" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "bandwidth_mbps"
      << YAML::Value << in.links.default_link->bandwidth_mbps << YAML::Key << "latency_ms" << YAML::Value
      << in.links.default_link->latency_ms << YAML::EndMap;
  e << YAML::Key << "pairs" << YAML::Value << YAML::BeginSeq;
  for (const auto& p : in.links.pairs)
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "from" << YAML::Value << p.from << YAML::Key << "to"
      << YAML::Value << p.to << YAML::Key << "bandwidth_mbps" << YAML::Value << p.link.bandwidth_mbps << YAML::Key
      << "latency_ms" << YAML::Value << p.link.latency_ms << YAML::Key << "symmetric" << YAML::Value << p.symmetric
      << YAML::EndMap;
  e << YAML::EndSeq << YAML::EndMap;
  e << YAML::Key << "source" << YAML::Value << in.source;
  e << YAML::Key << "constraints" << YAML::Value << YAML::BeginMap << YAML::Key << "trusted_prefix_layers"
    << YAML::Value << in.constraints.trusted_prefix_layers << YAML::Key << "max_stages" << YAML::Value
    << in.constraints.max_stages;
  if (in.constraints.max_period_ms > 0) e << YAML::Key << "max_period_ms" << YAML::Value << in.constraints.max_period_ms;
  if (!in.constraints.pinned.empty()) {
    e << YAML::Key << "pinned" << YAML::Value << YAML::Flow << YAML::BeginMap;
    for (const auto& [l, n] : in.constraints.pinned) e << YAML::Key << l << YAML::Value << n;
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
  e << YAML::Key << "objective" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "kind" << YAML::Value
    << ObjectiveKindName(in.objective.kind) << YAML::Key << "alpha" << YAML::Value << in.objective.alpha << YAML::Key
    << "beta" << YAML::Value << in.objective.beta << YAML::EndMap;
  if (in.current_plan) {
    e << YAML::Key << "current_plan" << YAML::Value << YAML::BeginMap << YAML::Key << "stages" << YAML::Value
      << YAML::BeginSeq;
    for (const auto& s : in.current_plan->stages)
      e << YAML::Flow << YAML::BeginMap << YAML::Key << "node" << YAML::Value << s.node << YAML::Key << "first_layer"
        << YAML::Value << s.first_layer << YAML::Key << "end_layer" << YAML::Value << s.end_layer << YAML::EndMap;
    e << YAML::EndSeq << YAML::EndMap;
  }
  if (in.migration)
    e << YAML::Key << "migration" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "weight_fetch_mbps"
      << YAML::Value << in.migration->weight_fetch_mbps << YAML::Key << "horizon_requests" << YAML::Value
      << in.migration->horizon_requests << YAML::EndMap;
  e << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

}  // namespace edgesplit::planner
