// Flags shared by `edgesplitctl generate` and `edgesplitctl load --generate-sessions`: the REST
// client from --addr/--token (or EDGESPLIT_ADDR/EDGESPLIT_TOKEN) and the sampling flags as a
// generate request body. Header-only; errors name the flag.
#pragma once

#include <cmath>
#include <cstdlib>
#include <string>

#include <boost/json.hpp>

#include "common/base/flags.h"
#include "common/base/status.h"
#include "common/model/generation_request.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit::ctl {

inline orch::RestClient RestClientFromFlags(const Flags& f, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  const char* env_addr = std::getenv("EDGESPLIT_ADDR");
  const char* env_token = std::getenv("EDGESPLIT_TOKEN");
  return orch::RestClient(f.Get("addr", env_addr ? env_addr : "127.0.0.1:8080"), f.Get("token", env_token ? env_token : ""),
                          timeout);
}

// Adds --temperature, --top-k, --top-p, --seed and --stop-tokens (when given) to `body`.
inline Status AddSamplingFlags(const Flags& f, boost::json::object& body) {
  if (f.Has("temperature")) {
    ES_ASSIGN_OR_RETURN(double t, f.GetDouble("temperature", 0));
    if (!std::isfinite(t) || t < 0) return InvalidArgument("flag --temperature: must be a non-negative number");
    body["temperature"] = t;
  }
  if (f.Has("top-k")) {
    ES_ASSIGN_OR_RETURN(long long k, f.GetInt("top-k", 0));
    if (k < 0) return InvalidArgument("flag --top-k: must be a non-negative integer");
    body["top_k"] = k;
  }
  if (f.Has("top-p")) {
    ES_ASSIGN_OR_RETURN(double p, f.GetDouble("top-p", 1));
    if (!std::isfinite(p) || p <= 0 || p > 1) return InvalidArgument("flag --top-p: must be a number in (0, 1]");
    body["top_p"] = p;
  }
  if (f.Has("seed")) {
    const std::string s = f.Get("seed");
    char* end = nullptr;
    errno = 0;
    const unsigned long long seed = std::strtoull(s.c_str(), &end, 10);
    if (s.empty() || s[0] == '-' || *end != '\0' || errno == ERANGE)
      return InvalidArgument("flag --seed: '" + s + "' is not a non-negative integer");
    body["seed"] = static_cast<uint64_t>(seed);
  }
  if (f.Has("stop-tokens")) {
    ES_ASSIGN_OR_RETURN(auto stop, ParseTokenList(f.Get("stop-tokens"), "flag --stop-tokens"));
    boost::json::array a;
    for (int64_t t : stop) a.push_back(t);
    body["stop_tokens"] = std::move(a);
  }
  return Status::Ok();
}

// One line on stderr, as every edgesplitctl error.
inline int FlagError(const std::string& message, int code = 2) {
  std::fprintf(stderr, "edgesplitctl: error: %s\n", message.c_str());
  return code;
}

}  // namespace edgesplit::ctl
