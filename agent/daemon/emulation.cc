#include "agent/daemon/emulation.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace edgesplit::agent {

namespace {

// A strict reader for one flat JSON object whose values are numbers.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}
  void SkipWs() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool Eat(char c) {
    SkipWs();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool AtEnd() {
    SkipWs();
    return i_ == s_.size();
  }
  // A string without escapes or control characters (the only keys accepted are plain words).
  std::optional<std::string> String() {
    SkipWs();
    if (i_ >= s_.size() || s_[i_] != '"') return std::nullopt;
    std::string out;
    for (++i_; i_ < s_.size(); ++i_) {
      const char c = s_[i_];
      if (c == '"') return ++i_, out;
      if (c == '\\' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
      out.push_back(c);
    }
    return std::nullopt;
  }
  // A JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  std::optional<double> Number() {
    SkipWs();
    const size_t start = i_;
    auto digits = [&] {
      const size_t d = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      return i_ > d;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') {
      ++i_;
    } else if (!digits()) {
      return std::nullopt;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (!digits()) return std::nullopt;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (!digits()) return std::nullopt;
    }
    const std::string text(s_.substr(start, i_ - start));
    return std::strtod(text.c_str(), nullptr);
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<EmulationUpdate> ParseEmulationUpdate(std::string_view json) {
  if (json.size() > 4096) return InvalidArgument("emulation: body larger than 4 KiB");
  Reader r(json);
  EmulationUpdate u;
  if (!r.Eat('{')) return InvalidArgument("emulation: body must be a JSON object");
  if (!r.Eat('}')) {
    for (;;) {
      auto key = r.String();
      if (!key) return InvalidArgument("emulation: malformed JSON (expected a key)");
      if (!r.Eat(':')) return InvalidArgument("emulation: malformed JSON (expected ':')");
      std::optional<double>* slot = nullptr;
      if (*key == "compute_slowdown") slot = &u.compute_slowdown;
      else if (*key == "egress_mbps") slot = &u.egress_mbps;
      else return InvalidArgument("emulation: unknown key '" + *key + "' (compute_slowdown, egress_mbps)");
      if (slot->has_value()) return InvalidArgument("emulation: duplicate key '" + *key + "'");
      auto v = r.Number();
      if (!v) return InvalidArgument("emulation: " + *key + " must be a number");
      *slot = *v;
      if (r.Eat(',')) continue;
      if (r.Eat('}')) break;
      return InvalidArgument("emulation: malformed JSON (expected ',' or '}')");
    }
  }
  if (!r.AtEnd()) return InvalidArgument("emulation: trailing characters after the JSON object");
  if (u.compute_slowdown &&
      !(std::isfinite(*u.compute_slowdown) && *u.compute_slowdown >= 1.0 && *u.compute_slowdown <= kMaxComputeSlowdown))
    return InvalidArgument("emulation: compute_slowdown must be in [1, 1000]");
  if (u.egress_mbps && !(std::isfinite(*u.egress_mbps) && *u.egress_mbps >= 0))
    return InvalidArgument("emulation: egress_mbps must be >= 0 (0 = uncapped)");
  return u;
}

EmulationConfig ApplyEmulationUpdate(EmulationConfig current, const EmulationUpdate& update) {
  if (update.compute_slowdown) current.compute_slowdown = *update.compute_slowdown;
  if (update.egress_mbps) current.egress_mbps = *update.egress_mbps;
  return current;
}

std::string EmulationJson(const EmulationConfig& e) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "{\"compute_slowdown\":%.17g,\"egress_mbps\":%.17g}", e.compute_slowdown, e.egress_mbps);
  return buf;
}

}  // namespace edgesplit::agent
