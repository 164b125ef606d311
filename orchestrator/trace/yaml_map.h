// One YAML mapping read key by key, every error naming the key path ("events[3].mbps: must be
// > 0"). Duplicate keys are refused (yaml-cpp keeps both and a lookup would silently take the
// first), so a file never says two things. Returns Status; yaml-cpp exceptions stop here.
// A value type over a shared yaml-cpp node: thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "common/base/json_escape.h"  // QuoteForError
#include "common/base/status.h"

namespace edgesplit::trace {


class YamlMap {
 public:
  // InvalidArgument unless `node` is a mapping with unique scalar keys. `path` names it in
  // errors ("nodes[1]"); empty for the document root.
  static Result<YamlMap> Open(const YAML::Node& node, std::string path);

  // InvalidArgument `<path>: unknown key "k"` for the first key not in `allowed`.
  Status AllowOnly(const std::set<std::string>& allowed) const;

  const std::vector<std::string>& keys() const { return keys_; }
  bool Has(const std::string& key) const { return node_[key].IsDefined(); }
  YAML::Node Get(const std::string& key) const { return node_[key]; }
  const std::string& path() const { return path_; }
  std::string PathOf(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  // Typed reads. Absent: `def`, or InvalidArgument "missing" without one. Present but null, of
  // another type, or (numbers) not finite: InvalidArgument.
  Result<double> Number(const std::string& key, std::optional<double> def = std::nullopt) const;
  // A number with no fractional part (2 and 2.0 alike) in [lo, hi].
  Result<int64_t> Integer(const std::string& key, std::optional<int64_t> def, int64_t lo, int64_t hi) const;
  Result<bool> Bool(const std::string& key, bool def) const;
  Result<std::string> String(const std::string& key, std::optional<std::string> def = std::nullopt) const;

 private:
  YamlMap(YAML::Node node, std::string path, std::vector<std::string> keys)
      : node_(std::move(node)), path_(std::move(path)), keys_(std::move(keys)) {}
  // The scalar at `key`, or the error saying what was expected instead.
  Result<std::string> Scalar(const std::string& key, const char* expected) const;

  YAML::Node node_;
  std::string path_;
  std::vector<std::string> keys_;  // in file order
};

}  // namespace edgesplit::trace
