#include "orchestrator/daemon/config.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/base/flags.h"

namespace edgesplit::orch {

namespace {

Duration Ms(double ms) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ms)); }

// One setter per key ("section.key"), shared by YAML and flags.
using Setter = std::function<Status(OrchestratorConfig&, const std::string&)>;

Status ParseDouble(const std::string& s, double* out, const std::string& key) {
  try {
    size_t pos = 0;
    *out = std::stod(s, &pos);
    if (pos != s.size()) throw std::invalid_argument(s);
  } catch (const std::exception&) {
    return InvalidArgument(key + ": not a number: " + s);
  }
  return Status::Ok();
}

template <typename T>
Setter Num(T OrchestratorConfig::*field) {
  return [field](OrchestratorConfig& c, const std::string& v) -> Status {
    double d;
    ES_RETURN_IF_ERROR(ParseDouble(v, &d, "value"));
    c.*field = static_cast<T>(d);
    return Status::Ok();
  };
}

Setter Str(std::string OrchestratorConfig::*field) {
  return [field](OrchestratorConfig& c, const std::string& v) {
    c.*field = v;
    return Status::Ok();
  };
}

Setter Fn(std::function<void(OrchestratorConfig&, double)> f) {
  return [f](OrchestratorConfig& c, const std::string& v) -> Status {
    double d;
    ES_RETURN_IF_ERROR(ParseDouble(v, &d, "value"));
    f(c, d);
    return Status::Ok();
  };
}

const std::map<std::string, Setter>& Setters() {
  static const std::map<std::string, Setter> s = {
      {"control_listen", Str(&OrchestratorConfig::control_listen)},
      {"http_listen", Str(&OrchestratorConfig::http_listen)},
      {"models_dir", Str(&OrchestratorConfig::models_dir)},
      {"state_dir", Str(&OrchestratorConfig::state_dir)},
      {"token", Str(&OrchestratorConfig::token)},
      {"log_level", Str(&OrchestratorConfig::log_level)},
      {"heartbeat_period_ms", Num(&OrchestratorConfig::heartbeat_period_ms)},
      {"tick_ms", Num(&OrchestratorConfig::tick_ms)},
      {"max_body_bytes", Num(&OrchestratorConfig::max_body_bytes)},
      {"control.max_connections", Fn([](auto& c, double v) { c.control_limits.max_connections = static_cast<size_t>(v); })},
      {"control.max_connections_per_peer", Fn([](auto& c, double v) { c.control_limits.max_per_peer = static_cast<size_t>(v); })},
      {"http.max_connections", Fn([](auto& c, double v) { c.http_limits.max_connections = static_cast<size_t>(v); })},
      {"http.max_connections_per_peer", Fn([](auto& c, double v) { c.http_limits.max_per_peer = static_cast<size_t>(v); })},
      {"http.header_timeout_ms", Num(&OrchestratorConfig::http_header_timeout_ms)},
      {"debug.wedge_io_after_ms", Num(&OrchestratorConfig::debug_wedge_io_after_ms)},
      {"liveness.suspect_after_ms", Fn([](auto& c, double v) { c.controller.registry.suspect_after = Ms(v); })},
      {"liveness.dead_after_ms", Fn([](auto& c, double v) { c.controller.registry.dead_after = Ms(v); })},
      {"liveness.disconnect_grace_ms", Fn([](auto& c, double v) { c.controller.registry.disconnect_grace = Ms(v); })},
      {"policy.horizon_s", Fn([](auto& c, double v) { c.controller.policy.horizon_s = v; })},
      {"policy.min_request_rate", Fn([](auto& c, double v) { c.controller.policy.min_request_rate = v; })},
      {"policy.hysteresis_fraction", Fn([](auto& c, double v) { c.controller.policy.hysteresis_fraction = v; })},
      {"policy.min_gain_ms", Fn([](auto& c, double v) { c.controller.policy.min_gain_ms = v; })},
      {"policy.cooldown_s", Fn([](auto& c, double v) { c.controller.policy.cooldown = Ms(v * 1e3); })},
      {"policy.weight_fetch_mbps", Fn([](auto& c, double v) { c.controller.policy.weight_fetch_mbps = v; })},
      {"policy.drift_fraction", Fn([](auto& c, double v) { c.controller.policy.drift_fraction = v; })},
      {"policy.evaluate_interval_ms", Fn([](auto& c, double v) { c.controller.policy.evaluate_interval = Ms(v); })},
      {"policy.confirm_evaluations", Fn([](auto& c, double v) { c.controller.policy.confirm_evaluations = static_cast<int>(v); })},
      {"policy.cooldown_waiver_factor", Fn([](auto& c, double v) { c.controller.policy.cooldown_waiver_factor = v; })},
      {"policy.resplit_margin_fraction", Fn([](auto& c, double v) { c.controller.policy.resplit_margin_fraction = v; })},
      {"policy.max_utilization", Fn([](auto& c, double v) { c.controller.policy.max_utilization = v; })},
      {"policy.noise_factor", Fn([](auto& c, double v) { c.controller.policy.noise_factor = v; })},
      {"policy.mode", [](OrchestratorConfig& c, const std::string& v) -> Status {
         ES_ASSIGN_OR_RETURN(c.controller.policy.mode, ParsePolicyMode(v));
         return Status::Ok();
       }},
      {"policy.period_s", Fn([](auto& c, double v) { c.controller.policy.period = Ms(v * 1e3); })},
      {"policy.slo_window_s", Fn([](auto& c, double v) { c.controller.policy.slo_window = Ms(v * 1e3); })},
      {"rollout.prepare_timeout_ms", Fn([](auto& c, double v) { c.controller.rollout.prepare_timeout = Ms(v); })},
      {"rollout.commit_timeout_ms", Fn([](auto& c, double v) { c.controller.rollout.commit_timeout = Ms(v); })},
      {"rollout.drain_timeout_ms", Fn([](auto& c, double v) { c.controller.rollout.drain_timeout = Ms(v); })},
      {"rollout.drain_grace_ms", Fn([](auto& c, double v) { c.controller.rollout.drain_grace = Ms(v); })},
      {"rollout.release_timeout_ms", Fn([](auto& c, double v) { c.controller.rollout.release_timeout = Ms(v); })},
      {"planner.time_limit_ms", Fn([](auto& c, double v) { c.controller.planner_time_limit_ms = v; })},
      {"planner.default_bandwidth_mbps", Fn([](auto& c, double v) { c.controller.default_link.bandwidth_mbps = v; })},
      {"planner.default_latency_ms", Fn([](auto& c, double v) { c.controller.default_link.latency_ms = v; })},
      {"planner.probe_interval_ms", Fn([](auto& c, double v) { c.controller.probe_interval = Ms(v); })},
      {"planner.probe_bytes", Fn([](auto& c, double v) { c.controller.probe_bytes = static_cast<uint32_t>(v); })},
      {"adopt_grace_ms", Fn([](auto& c, double v) { c.controller.adopt_grace = Ms(v); })},
      {"max_deployments", Fn([](auto& c, double v) { c.controller.max_deployments = static_cast<size_t>(v); })},
      {"gateway.threads", Fn([](auto& c, double v) { c.gateway.threads = static_cast<int>(v); })},
      {"gateway.max_queue", Fn([](auto& c, double v) { c.gateway.max_queue = static_cast<int>(v); })},
      {"gateway.attempt_timeout_ms", Fn([](auto& c, double v) { c.gateway.attempt_timeout = Ms(v); })},
      {"gateway.default_deadline_ms", Fn([](auto& c, double v) { c.api.default_infer_deadline = Ms(v); })},
      {"gateway.max_generate_sessions", Fn([](auto& c, double v) { c.gateway.max_generate_sessions = static_cast<int>(v); })},
      {"gateway.generate_start_timeout_ms", Fn([](auto& c, double v) { c.gateway.generate_start_timeout = Ms(v); })},
      {"tls.mode", [](OrchestratorConfig& c, const std::string& v) { return c.tls.Set("mode", v); }},
      {"tls.ca", [](OrchestratorConfig& c, const std::string& v) { return c.tls.Set("ca", v); }},
      {"tls.cert", [](OrchestratorConfig& c, const std::string& v) { return c.tls.Set("cert", v); }},
      {"tls.key", [](OrchestratorConfig& c, const std::string& v) { return c.tls.Set("key", v); }},
      {"tls.revoked", [](OrchestratorConfig& c, const std::string& v) { return c.tls.Set("revoked", v); }},
      // A YAML list in the file (Apply); comma-separated with --set trusted_nodes=a,b.
      {"trusted_nodes", [](OrchestratorConfig& c, const std::string& v) -> Status {
         std::vector<std::string> names;
         for (size_t start = 0; start <= v.size() && !v.empty();) {
           size_t comma = v.find(',', start);
           if (comma == std::string::npos) comma = v.size();
           names.push_back(v.substr(start, comma - start));
           start = comma + 1;
         }
         c.controller.registry.trusted_nodes = std::move(names);
         return Status::Ok();
       }},
  };
  return s;
}

Status Apply(OrchestratorConfig& c, const YAML::Node& node, const std::string& prefix) {
  if (!node.IsMap()) return InvalidArgument((prefix.empty() ? std::string("config") : prefix) + ": must be a map");
  for (const auto& kv : node) {
    const std::string key = prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>();
    if (kv.second.IsMap()) {
      ES_RETURN_IF_ERROR(Apply(c, kv.second, key));
      continue;
    }
    if (key == "trusted_nodes" && (kv.second.IsSequence() || kv.second.IsNull())) {
      std::vector<std::string> names;
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) return InvalidArgument("trusted_nodes: every entry must be a node name");
        names.push_back(item.as<std::string>());
      }
      c.controller.registry.trusted_nodes = std::move(names);
      continue;
    }
    auto it = Setters().find(key);
    if (it == Setters().end()) return InvalidArgument("unknown config key " + key);
    std::string value;
    if (key == "tls.revoked" && kv.second.IsSequence()) {  // a YAML list of names or serials
      for (const auto& item : kv.second) {
        if (!item.IsScalar()) return InvalidArgument(key + ": entries must be strings");
        value += (value.empty() ? "" : ",") + item.as<std::string>();
      }
    } else if (!kv.second.IsScalar()) {
      return InvalidArgument(key + ": must be a scalar");
    } else {
      value = kv.second.as<std::string>();
    }
    Status s = it->second(c, value);
    if (!s.ok()) return InvalidArgument(key + ": " + s.message());
  }
  return Status::Ok();
}

}  // namespace

Status OrchestratorConfig::Validate() const {
  std::string e;
  if (control_listen.empty()) e += "control_listen is required; ";
  if (http_listen.empty()) e += "http_listen is required; ";
  if (heartbeat_period_ms < 10 || heartbeat_period_ms > 600000) e += "heartbeat_period_ms must be in [10, 600000]; ";
  if (tick_ms < 1 || tick_ms > 10000) e += "tick_ms must be in [1, 10000]; ";
  if (Status s = control_limits.Validate("control"); !s.ok()) e += s.message() + "; ";
  if (Status s = http_limits.Validate("http"); !s.ok()) e += s.message() + "; ";
  if (http_header_timeout_ms < 1) e += "http.header_timeout_ms must be positive; ";
  if (debug_wedge_io_after_ms < 0) e += "debug.wedge_io_after_ms must be >= 0 (0 = off); ";
  if (gateway.threads < 1 || gateway.threads > 1024) e += "gateway.threads must be in [1, 1024]; ";
  if (gateway.max_queue < 1) e += "gateway.max_queue must be >= 1; ";
  if (gateway.max_generate_sessions < 1) e += "gateway.max_generate_sessions must be >= 1; ";
  if (gateway.generate_start_timeout <= Duration::zero()) e += "gateway.generate_start_timeout_ms must be > 0; ";
  if (Status s = controller.Validate(); !s.ok()) e += s.message() + "; ";
  if (Status s = tls.Validate(); !s.ok()) e += s.message() + "; ";
  if (!e.empty()) return InvalidArgument(e.substr(0, e.size() - 2));
  return Status::Ok();
}

namespace {
// The file alone (flags may complete it, e.g. the units' TLS credentials): validated later.
Result<OrchestratorConfig> ParseUnvalidated(const std::string& yaml_text) {
  OrchestratorConfig c;
  try {
    YAML::Node root = YAML::Load(yaml_text);
    if (!root.IsNull()) ES_RETURN_IF_ERROR(Apply(c, root, ""));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config YAML: ") + e.what());
  }
  return c;
}
}  // namespace

Result<OrchestratorConfig> ParseOrchestratorConfig(const std::string& yaml_text) {
  ES_ASSIGN_OR_RETURN(OrchestratorConfig c, ParseUnvalidated(yaml_text));
  c.api.bearer_token = c.token;
  ES_RETURN_IF_ERROR(c.Validate());
  return c;
}

std::string OrchestratorUsage() {
  return "usage: edgesplit-orchestrator [--config FILE] [--control-listen HOST:PORT] [--http-listen HOST:PORT]\n"
         "         [--models-dir DIR] [--state-dir DIR] [--token TOKEN] [--heartbeat-period-ms N]\n"
         "         [--log-level debug|info|warn|error] [--tls-ca F --tls-cert F --tls-key F | --tls-mode off]\n"
         "         [--set key=value ...]\n"
         "Environment: EDGESPLIT_TOKEN (bearer token, if --token is not given).\n";
}

Result<OrchestratorConfig> OrchestratorConfigFromArgs(const std::vector<std::string>& args) {
  // --set may repeat: collect those first.
  std::vector<std::string> rest, sets;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--set" && i + 1 < args.size()) {
      sets.push_back(args[++i]);
    } else if (args[i].rfind("--set=", 0) == 0) {
      sets.push_back(args[i].substr(6));
    } else {
      rest.push_back(args[i]);
    }
  }
  ES_ASSIGN_OR_RETURN(Flags f, Flags::Parse(rest, {"config", "control-listen", "http-listen", "models-dir", "state-dir",
                                                   "token", "heartbeat-period-ms", "log-level", "tls-mode", "tls-ca",
                                                   "tls-cert", "tls-key"}));
  OrchestratorConfig c;
  if (f.Has("config")) {
    std::ifstream in(f.Get("config"));
    if (!in) return NotFound("cannot read config " + f.Get("config"));
    std::stringstream ss;
    ss << in.rdbuf();
    ES_ASSIGN_OR_RETURN(c, ParseUnvalidated(ss.str()));
  }
  if (f.Has("control-listen")) c.control_listen = f.Get("control-listen");
  if (f.Has("http-listen")) c.http_listen = f.Get("http-listen");
  if (f.Has("models-dir")) c.models_dir = f.Get("models-dir");
  if (f.Has("state-dir")) c.state_dir = f.Get("state-dir");
  if (f.Has("log-level")) c.log_level = f.Get("log-level");
  for (const char* k : {"mode", "ca", "cert", "key"})
    if (f.Has(std::string("tls-") + k)) ES_RETURN_IF_ERROR(c.tls.Set(k, f.Get(std::string("tls-") + k)));
  if (f.Has("token")) {
    c.token = f.Get("token");
  } else if (const char* t = std::getenv("EDGESPLIT_TOKEN"); t && c.token.empty()) {
    c.token = t;
  }
  if (f.Has("heartbeat-period-ms")) {
    ES_ASSIGN_OR_RETURN(long long hb, f.GetInt("heartbeat-period-ms", 250));
    c.heartbeat_period_ms = static_cast<int>(hb);
  }
  for (const auto& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos) return InvalidArgument("--set expects key=value, got " + s);
    auto it = Setters().find(s.substr(0, eq));
    if (it == Setters().end()) return InvalidArgument("unknown config key " + s.substr(0, eq));
    Status st = it->second(c, s.substr(eq + 1));
    if (!st.ok()) return InvalidArgument(s.substr(0, eq) + ": " + st.message());
  }
  c.api.bearer_token = c.token;
  ES_RETURN_IF_ERROR(c.Validate());
  return c;
}

}  // namespace edgesplit::orch
