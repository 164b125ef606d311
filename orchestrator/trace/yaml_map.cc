#include "orchestrator/trace/yaml_map.h"

#include <cmath>

#include "common/base/json_escape.h"

namespace edgesplit::trace {

namespace {

// "nodes[1]: " before a message about a whole mapping; nothing for the document root.
std::string Prefix(const std::string& path) { return path.empty() ? "" : path + ": "; }

}  // namespace

Result<YamlMap> YamlMap::Open(const YAML::Node& node, std::string path) {
  const std::string where = Prefix(path);
  if (!node.IsDefined() || node.IsNull()) return InvalidArgument(path.empty() ? "empty document" : where + "missing (a mapping)");
  if (!node.IsMap()) return InvalidArgument(where + "expected a mapping {key: value, ...}");
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return InvalidArgument(where + "a key is not a plain name");
    const std::string k = kv.first.Scalar();
    if (!seen.insert(k).second) return InvalidArgument(where + "duplicate key " + QuoteForError(k));
    keys.push_back(k);
  }
  return YamlMap(node, std::move(path), std::move(keys));
}

Status YamlMap::AllowOnly(const std::set<std::string>& allowed) const {
  for (const auto& k : keys_) {
    if (!allowed.count(k)) return InvalidArgument(Prefix(path_) + "unknown key " + QuoteForError(k));
  }
  return Status::Ok();
}

Result<std::string> YamlMap::Scalar(const std::string& key, const char* expected) const {
  const YAML::Node n = node_[key];
  if (n.IsNull()) return InvalidArgument(PathOf(key) + ": expected " + expected + ", got null");
  if (!n.IsScalar()) return InvalidArgument(PathOf(key) + ": expected " + expected + ", got a list or mapping");
  return n.Scalar();
}

Result<double> YamlMap::Number(const std::string& key, std::optional<double> def) const {
  if (!Has(key)) {
    if (def) return *def;
    return InvalidArgument(PathOf(key) + ": missing (a number)");
  }
  ES_ASSIGN_OR_RETURN(std::string text, Scalar(key, "a number"));
  double v = 0;
  try {
    v = node_[key].as<double>();
  } catch (const YAML::Exception&) {
    return InvalidArgument(PathOf(key) + ": expected a number, got " + QuoteForError(text));
  }
  if (!std::isfinite(v)) return InvalidArgument(PathOf(key) + ": must be finite");
  return v;
}

Result<int64_t> YamlMap::Integer(const std::string& key, std::optional<int64_t> def, int64_t lo, int64_t hi) const {
  std::optional<double> d;
  if (def) d = static_cast<double>(*def);
  ES_ASSIGN_OR_RETURN(double v, Number(key, d));
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (v != std::floor(v)) return InvalidArgument(PathOf(key) + ": must be an integer in " + range);
  // Compared as doubles first: a huge value must not overflow the cast.
  if (v < static_cast<double>(lo) || v > static_cast<double>(hi))
    return InvalidArgument(PathOf(key) + ": must be an integer in " + range);
  return static_cast<int64_t>(v);
}

Result<bool> YamlMap::Bool(const std::string& key, bool def) const {
  if (!Has(key)) return def;
  ES_ASSIGN_OR_RETURN(std::string text, Scalar(key, "true or false"));
  try {
    return node_[key].as<bool>();
  } catch (const YAML::Exception&) {
    return InvalidArgument(PathOf(key) + ": expected true or false, got " + QuoteForError(text));
  }
}

Result<std::string> YamlMap::String(const std::string& key, std::optional<std::string> def) const {
  if (!Has(key)) {
    if (def) return *def;
    return InvalidArgument(PathOf(key) + ": missing (a string)");
  }
  return Scalar(key, "a string");
}

}  // namespace edgesplit::trace
