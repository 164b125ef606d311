#include "agent/daemon/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "agent/runtime/blas_kernels.h"
#include "common/base/flags.h"

namespace edgesplit::agent {

namespace {

// One setter per key, shared by the YAML parser and the flag parser (flag = key with '-').
using Setter = std::function<Status(AgentConfig&, const std::string&)>;

template <typename T>
Status ParseNumber(const std::string& key, const std::string& v, T* out) {
  std::istringstream in(v);
  T x{};
  in >> x;
  if (in.fail() || !in.eof()) return InvalidArgument(key + ": '" + v + "' is not a number");
  *out = x;
  return Status::Ok();
}

Status ParseBool(const std::string& key, const std::string& v, bool* out) {
  if (v == "true" || v == "1" || v == "yes") return *out = true, Status::Ok();
  if (v == "false" || v == "0" || v == "no") return *out = false, Status::Ok();
  return InvalidArgument(key + ": '" + v + "' is not a boolean");
}

#define ES_STR(name) {#name, [](AgentConfig& c, const std::string& v) { c.name = v; return Status::Ok(); }}
#define ES_NUM(name) {#name, [](AgentConfig& c, const std::string& v) { return ParseNumber(#name, v, &c.name); }}
#define ES_BOOL(name) {#name, [](AgentConfig& c, const std::string& v) { return ParseBool(#name, v, &c.name); }}

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> s = {
      ES_STR(node), ES_STR(orchestrator), ES_STR(data_listen), ES_STR(advertise_address), ES_STR(http_listen),
      ES_STR(models_dir), ES_BOOL(trusted), ES_NUM(heartbeat_period_ms), ES_NUM(compute_threads),
      ES_NUM(intra_op_threads), ES_NUM(max_queue), ES_NUM(max_frame_bytes), ES_NUM(frame_deadline_ms),
      ES_NUM(idle_timeout_ms), ES_NUM(request_timeout_ms), ES_NUM(drain_timeout_ms), ES_NUM(reconnect_min_ms),
      ES_NUM(reconnect_max_ms), ES_NUM(max_peer_queue), ES_NUM(data_max_connections),
      ES_NUM(data_max_connections_per_peer), ES_NUM(http_max_connections), ES_NUM(http_max_connections_per_peer),
      ES_NUM(http_header_timeout_ms), ES_NUM(max_sessions), ES_NUM(max_context),
      ES_NUM(kv_budget_bytes), ES_NUM(session_idle_timeout_ms), ES_NUM(decode_batch_max), ES_BOOL(kv_copy), ES_NUM(kv_copy_timeout_ms), ES_STR(log_level), ES_BOOL(verify_sha256), ES_STR(blas_kernels),
      {"emulation.compute_slowdown",
       [](AgentConfig& c, const std::string& v) { return ParseNumber("compute_slowdown", v, &c.emulation.compute_slowdown); }},
      {"emulation.egress_mbps",
       [](AgentConfig& c, const std::string& v) { return ParseNumber("egress_mbps", v, &c.emulation.egress_mbps); }},
      {"emulation.runtime_api",
       [](AgentConfig& c, const std::string& v) { return ParseBool("runtime_api", v, &c.emulation.runtime_api); }},
      {"debug.drop_kv_tail",
       [](AgentConfig& c, const std::string& v) { return ParseBool("drop_kv_tail", v, &c.debug_drop_kv_tail); }},
      {"debug.wedge_io_after_ms",
       [](AgentConfig& c, const std::string& v) { return ParseNumber("wedge_io_after_ms", v, &c.debug_wedge_io_after_ms); }},
      {"tls.mode", [](AgentConfig& c, const std::string& v) { return c.tls.Set("mode", v); }},
      {"tls.ca", [](AgentConfig& c, const std::string& v) { return c.tls.Set("ca", v); }},
      {"tls.cert", [](AgentConfig& c, const std::string& v) { return c.tls.Set("cert", v); }},
      {"tls.key", [](AgentConfig& c, const std::string& v) { return c.tls.Set("key", v); }},
      {"tls.revoked", [](AgentConfig& c, const std::string& v) { return c.tls.Set("revoked", v); }},
  };
  return s;
}

Status Set(AgentConfig& c, const std::string& key, const std::string& value) {
  auto it = Setters().find(key);
  if (it == Setters().end()) return InvalidArgument("unknown config key '" + key + "'");
  return it->second(c, value);
}

Status ApplyNode(AgentConfig& c, const YAML::Node& node, const std::string& prefix) {
  if (!node.IsMap()) return InvalidArgument((prefix.empty() ? "config" : prefix) + " must be a map");
  for (const auto& kv : node) {
    const std::string key = prefix + kv.first.as<std::string>();
    if (key == "emulation" || key == "tls" || key == "debug") {
      ES_RETURN_IF_ERROR(ApplyNode(c, kv.second, key + "."));
      continue;
    }
    if (key == "tls.revoked" && kv.second.IsSequence()) {  // a YAML list of names or serials
      std::string joined;
      for (const auto& item : kv.second) joined += (joined.empty() ? "" : ",") + item.as<std::string>();
      ES_RETURN_IF_ERROR(Set(c, key, joined));
      continue;
    }
    if (!kv.second.IsScalar()) return InvalidArgument(key + " must be a scalar");
    ES_RETURN_IF_ERROR(Set(c, key, kv.second.as<std::string>()));
  }
  return Status::Ok();
}

// emulation.compute_slowdown -> --compute-slowdown, tls.ca -> --tls-ca, max_queue -> --max-queue.
std::string FlagName(const std::string& key) {
  std::string flag = key.rfind("emulation.", 0) == 0 ? key.substr(10) : key;
  for (char& ch : flag)
    if (ch == '_' || ch == '.') ch = '-';
  return flag;
}

}  // namespace

Status AgentConfig::Validate() const {
  std::string p;
  if (node.empty()) p += "node is empty; ";
  if (data_listen.empty()) p += "data_listen is empty; ";
  if (heartbeat_period_ms < 10) p += "heartbeat_period_ms must be >= 10; ";
  if (compute_threads < 1 || compute_threads > 256) p += "compute_threads must be in [1, 256]; ";
  if (intra_op_threads < 0) p += "intra_op_threads must be >= 0; ";
  if (blas_kernels != "auto" && blas_kernels != "detected" && BlasCoreRank(blas_kernels) < 0)
    p += "blas_kernels must be auto, detected or one of Prescott, Sandybridge, Haswell, SkylakeX, Cooperlake; ";
  if (max_queue < 1) p += "max_queue must be >= 1; ";
  if (max_frame_bytes < 1024 || max_frame_bytes > (4LL << 30)) p += "max_frame_bytes must be in [1 KiB, 4 GiB]; ";
  if (frame_deadline_ms < 1 || idle_timeout_ms < 1 || request_timeout_ms < 1 || drain_timeout_ms < 0)
    p += "timeouts must be positive; ";
  if (reconnect_min_ms < 1 || reconnect_max_ms < reconnect_min_ms) p += "need 1 <= reconnect_min_ms <= reconnect_max_ms; ";
  if (max_peer_queue < 1) p += "max_peer_queue must be >= 1; ";
  if (data_max_connections < 1 || data_max_connections_per_peer < 1 || http_max_connections < 1 ||
      http_max_connections_per_peer < 1)
    p += "data_/http_max_connections[_per_peer] must be >= 1; ";
  if (http_header_timeout_ms < 1) p += "http_header_timeout_ms must be positive; ";
  if (max_sessions < 0 || max_sessions > 100000) p += "max_sessions must be in [0, 100000]; ";
  if (max_context < 0 || max_context > (1LL << 20)) p += "max_context must be in [0, 1048576]; ";
  if (kv_budget_bytes < 0) p += "kv_budget_bytes must be >= 0; ";
  if (session_idle_timeout_ms < 1) p += "session_idle_timeout_ms must be positive; ";
  if (kv_copy_timeout_ms < 1 || kv_copy_timeout_ms > 600000) p += "kv_copy_timeout_ms must be in [1, 600000]; ";
  if (decode_batch_max < 1 || decode_batch_max > 256) p += "decode_batch_max must be in [1, 256]; ";
  if (log_level != "debug" && log_level != "info" && log_level != "warn" && log_level != "error")
    p += "log_level must be debug|info|warn|error; ";
  if (emulation.compute_slowdown < 1.0) p += "emulation.compute_slowdown must be >= 1; ";
  if (emulation.egress_mbps < 0) p += "emulation.egress_mbps must be >= 0; ";
  if (debug_wedge_io_after_ms < 0) p += "debug.wedge_io_after_ms must be >= 0 (0 = off); ";
  if (Status t = tls.Validate(); !t.ok()) p += t.message() + "; ";
  if (tls.enabled) {
    if (Status n = security::ValidateName(node); !n.ok()) p += "node: " + n.message() + "; ";
  }
  if (!p.empty()) return InvalidArgument("agent config: " + p.substr(0, p.size() - 2));
  return Status::Ok();
}

Result<AgentConfig> ParseAgentConfig(const std::string& yaml_text) {
  AgentConfig c;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsNull()) ES_RETURN_IF_ERROR(ApplyNode(c, root, ""));
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("agent config: ") + e.what());
  }
  return c;
}

std::string AgentUsage() {
  std::string s = "usage: edgesplit-agent [--config FILE] [--KEY VALUE ...]\nkeys (YAML name with '-' for '_'):\n";
  for (const auto& [k, v] : Setters()) {
    s += "  --" + FlagName(k) + "\n";
  }
  return s;
}

Result<AgentConfig> AgentConfigFromArgs(const std::vector<std::string>& args) {
  std::set<std::string> valued = {"config"};
  std::map<std::string, std::string> flag_to_key;
  for (const auto& [k, v] : Setters()) {
    const std::string flag = FlagName(k);
    valued.insert(flag);
    flag_to_key[flag] = k;
  }
  ES_ASSIGN_OR_RETURN(Flags flags, Flags::Parse(args, valued, {"help"}));
  if (flags.GetBool("help")) return InvalidArgument(AgentUsage());
  if (!flags.positional().empty()) return InvalidArgument("unexpected argument '" + flags.positional()[0] + "'");
  AgentConfig c;
  if (flags.Has("config")) {
    std::ifstream f(flags.Get("config"));
    if (!f) return NotFound("cannot read config file " + flags.Get("config"));
    std::stringstream text;
    text << f.rdbuf();
    ES_ASSIGN_OR_RETURN(c, ParseAgentConfig(text.str()));
  }
  for (const auto& [flag, key] : flag_to_key)
    if (flags.Has(flag)) ES_RETURN_IF_ERROR(Set(c, key, flags.Get(flag)));
  ES_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace edgesplit::agent
