// Minimal command-line flag parsing: `--name value`, `--name=value` and boolean `--name`.
// Unknown flags are errors, so typos never pass silently.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/base/status.h"

namespace edgesplit {

class Flags {
 public:
  // `valued` flags take a value, `booleans` take none. Positional arguments are kept in order.
  static Result<Flags> Parse(const std::vector<std::string>& args, const std::set<std::string>& valued,
                             const std::set<std::string>& booleans = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0 || bools_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& def = "") const;
  Result<std::string> Required(const std::string& name) const;
  Result<long long> GetInt(const std::string& name, long long def) const;
  Result<double> GetDouble(const std::string& name, double def) const;
  bool GetBool(const std::string& name) const { return bools_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> bools_;
  std::vector<std::string> positional_;
};

}  // namespace edgesplit
