#include "common/base/flags.h"

#include <cstdlib>

namespace edgesplit {

Result<Flags> Flags::Parse(const std::vector<std::string>& args, const std::set<std::string>& valued,
                           const std::set<std::string>& booleans) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      f.positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_inline = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    if (booleans.count(name)) {
      if (has_inline) return InvalidArgument("flag --" + name + " takes no value");
      f.bools_.insert(name);
    } else if (valued.count(name)) {
      if (!has_inline) {
        if (i + 1 >= args.size()) return InvalidArgument("flag --" + name + " needs a value");
        value = args[++i];
      }
      f.values_[name] = value;
    } else {
      return InvalidArgument("unknown flag --" + name);
    }
  }
  return f;
}

std::string Flags::Get(const std::string& name, const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

Result<std::string> Flags::Required(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return InvalidArgument("missing required flag --" + name);
  return it->second;
}

Result<long long> Flags::GetInt(const std::string& name, long long def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end != '\0') return InvalidArgument("flag --" + name + ": '" + it->second + "' is not an integer");
  return v;
}

Result<double> Flags::GetDouble(const std::string& name, double def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (it->second.empty() || *end != '\0') return InvalidArgument("flag --" + name + ": '" + it->second + "' is not a number");
  return v;
}

}  // namespace edgesplit
