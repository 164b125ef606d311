#include "orchestrator/api/json_codec.h"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <string_view>
#include <unordered_set>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include "common/base/json_escape.h"
#include "orchestrator/api/json_int.h"

namespace edgesplit::orch {

namespace json = boost::json;

json::value Num(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

namespace {

// boost::json's own DOM handler (detail::handler) plus a check for duplicate keys, which
// boost::json::parse resolves silently (last one wins): a body that says two things is refused.
class CheckedHandler {
 public:
  static constexpr size_t max_object_size = json::object::max_size();
  static constexpr size_t max_array_size = json::array::max_size();
  static constexpr size_t max_key_size = json::string::max_size();
  static constexpr size_t max_string_size = json::string::max_size();

  json::value_stack st;
  bool has_duplicate = false;  // on_key refused a repeated key ...
  std::string duplicate;       // ... this one

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(size_t n, json::error_code&) {
    keys_.pop_back();
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!keys_.back().insert(key_).second) {
      has_duplicate = true;
      duplicate = std::move(key_);
      key_.clear();
      ec = json::error::syntax;  // replaced by the duplicate-key message
      return false;
    }
    key_.clear();
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    st.push_int64(i);
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    st.push_double(d);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;  // keys seen in each open object
  std::string key_;                                    // the key being read
};

}  // namespace

Result<json::value> ParseJson(const std::string& text) {
  json::parse_options opt;
  opt.max_depth = kMaxJsonDepth;
  json::basic_parser<CheckedHandler> p(opt);
  p.handler().st.reset();
  json::error_code ec;
  const size_t n = p.write_some(/*more=*/false, text.data(), text.size(), ec);
  if (p.handler().has_duplicate)
    return InvalidArgument("malformed JSON at byte " + std::to_string(n) + ": duplicate key " +
                           QuoteForError(p.handler().duplicate));
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return InvalidArgument("malformed JSON at byte " + std::to_string(n) + ": " + ec.message());
  return p.handler().st.release();
}

Status CheckKeys(const json::object& o, const std::vector<std::string>& allowed, const std::string& where) {
  for (const auto& kv : o) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || kv.key() == a;
    if (!ok) return InvalidArgument(where + ": unknown key " + QuoteForError(kv.key()));
  }
  return Status::Ok();
}

IntKind ClassifyInt(const json::value& v) {
  if (v.is_int64()) return IntKind::kInt64;
  if (v.is_uint64()) return v.get_uint64() <= static_cast<uint64_t>(INT64_MAX) ? IntKind::kInt64 : IntKind::kTooLarge;
  return IntKind::kNotInteger;
}

int64_t AsInt64(const json::value& v) { return v.is_int64() ? v.get_int64() : static_cast<int64_t>(v.get_uint64()); }

namespace {

Result<double> GetNumber(const json::object& o, const char* key, double def, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v) return def;
  if (!v->is_number()) return InvalidArgument(where + "." + key + ": must be a number");
  double d = v->to_number<double>();  // never throws: every JSON number converts to double
  if (!std::isfinite(d)) return InvalidArgument(where + "." + key + ": must be finite");
  return d;
}

Result<std::string> GetString(const json::object& o, const char* key, const std::string& def, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v) return def;
  if (!v->is_string()) return InvalidArgument(where + "." + key + ": must be a string");
  return std::string(v->as_string());
}


// A name (model, node, address): a string of at most kMaxJsonNameBytes without control characters,
// so it can be echoed in errors and logs as is.
Result<std::string> GetName(const json::object& o, const char* key, const std::string& def, const std::string& where) {
  ES_ASSIGN_OR_RETURN(std::string s, GetString(o, key, def, where));
  if (s.size() > kMaxJsonNameBytes)
    return InvalidArgument(where + "." + key + ": longer than " + std::to_string(kMaxJsonNameBytes) + " bytes");
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return InvalidArgument(where + "." + key + ": contains a control character");
  }
  return s;
}

// An integer in [lo, hi] (written as a JSON integer or an integral double such as 2.0).
Result<int> GetInt(const json::object& o, const char* key, int def, const std::string& where, int lo = -1000000000,
                   int hi = 1000000000) {
  ES_ASSIGN_OR_RETURN(double d, GetNumber(o, key, def, where));
  if (d != std::floor(d)) return InvalidArgument(where + "." + key + ": must be an integer");
  if (d < lo || d > hi)
    return InvalidArgument(where + "." + key + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(d);
}

}  // namespace

Result<DeploymentSpec> DeploymentSpecFromJson(const json::value& v, bool require_name) {
  if (!v.is_object()) return InvalidArgument("deployment: body must be a JSON object");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"name", "model", "entry_node", "objective", "slo_latency_ms",
                                   "trusted_prefix_layers", "max_stages", "kv_sessions", "kv_context_tokens"},
                               "deployment"));
  DeploymentSpec s;
  ES_ASSIGN_OR_RETURN(s.name, GetString(o, "name", require_name ? "" : "preview", "deployment"));
  ES_ASSIGN_OR_RETURN(s.model, GetName(o, "model", "", "deployment"));
  ES_ASSIGN_OR_RETURN(s.entry_node, GetName(o, "entry_node", "", "deployment"));
  ES_ASSIGN_OR_RETURN(s.slo_latency_ms, GetNumber(o, "slo_latency_ms", 0, "deployment"));
  ES_ASSIGN_OR_RETURN(s.trusted_prefix_layers, GetInt(o, "trusted_prefix_layers", 0, "deployment", 0, kMaxJsonLayers));
  ES_ASSIGN_OR_RETURN(s.max_stages, GetInt(o, "max_stages", 0, "deployment", 0, kMaxJsonLayers));
  ES_ASSIGN_OR_RETURN(s.kv_sessions, GetInt(o, "kv_sessions", 0, "deployment", 0, kMaxJsonKvSessions));
  ES_ASSIGN_OR_RETURN(s.kv_context_tokens, GetInt(o, "kv_context_tokens", 0, "deployment", 0, kMaxJsonContextTokens));
  if (const json::value* obj = o.if_contains("objective")) {
    if (obj->is_string()) {
      // Not ParseObjectiveKind's message: it echoes the whole string and lacks the key.
      auto k = planner::ParseObjectiveKind(std::string(obj->as_string()));
      if (!k.ok()) return InvalidArgument("deployment.objective: must be latency, period or mixed");
      s.objective.kind = *k;
    } else if (obj->is_object()) {
      const auto& oo = obj->as_object();
      ES_RETURN_IF_ERROR(CheckKeys(oo, {"kind", "alpha", "beta"}, "deployment.objective"));
      ES_ASSIGN_OR_RETURN(std::string kind, GetString(oo, "kind", "latency", "deployment.objective"));
      auto k = planner::ParseObjectiveKind(kind);
      if (!k.ok()) return InvalidArgument("deployment.objective.kind: must be latency, period or mixed");
      s.objective.kind = *k;
      ES_ASSIGN_OR_RETURN(s.objective.alpha, GetNumber(oo, "alpha", 1.0, "deployment.objective"));
      ES_ASSIGN_OR_RETURN(s.objective.beta, GetNumber(oo, "beta", 1.0, "deployment.objective"));
    } else {
      return InvalidArgument("deployment.objective: must be a string or an object");
    }
  }
  Status st = s.Validate();
  if (!st.ok()) return InvalidArgument("deployment: " + st.message());
  return s;
}

json::object DeploymentSpecToJson(const DeploymentSpec& s) {
  return {{"name", s.name},
          {"model", s.model},
          {"entry_node", s.entry_node},
          {"objective", json::object{{"kind", planner::ObjectiveKindName(s.objective.kind)},
                                     {"alpha", s.objective.alpha},
                                     {"beta", s.objective.beta}}},
          {"slo_latency_ms", s.slo_latency_ms},
          {"trusted_prefix_layers", s.trusted_prefix_layers},
          {"max_stages", s.max_stages},
          {"kv_sessions", s.kv_sessions},
          {"kv_context_tokens", s.kv_context_tokens}};
}

Result<PolicySettings> PolicyFromJson(const json::value& v, const PolicySettings& base) {
  if (!v.is_object()) return InvalidArgument("policy: body must be a JSON object");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"horizon_s", "min_request_rate", "hysteresis_fraction", "min_gain_ms", "cooldown_s",
                                   "weight_fetch_mbps", "drift_fraction", "evaluate_interval_ms", "slo_window_s", "confirm_evaluations",
                                   "resplit_margin_fraction", "cooldown_waiver_factor", "mode", "period_s", "max_utilization", "noise_factor"},
                               "policy"));
  PolicySettings p = base;
  ES_ASSIGN_OR_RETURN(std::string mode, GetString(o, "mode", PolicyModeName(base.mode), "policy"));
  ES_ASSIGN_OR_RETURN(p.mode, ParsePolicyMode(mode));
  ES_ASSIGN_OR_RETURN(double period, GetNumber(o, "period_s", ToSeconds(base.period), "policy"));
  ES_ASSIGN_OR_RETURN(p.horizon_s, GetNumber(o, "horizon_s", base.horizon_s, "policy"));
  ES_ASSIGN_OR_RETURN(p.min_request_rate, GetNumber(o, "min_request_rate", base.min_request_rate, "policy"));
  ES_ASSIGN_OR_RETURN(p.hysteresis_fraction, GetNumber(o, "hysteresis_fraction", base.hysteresis_fraction, "policy"));
  ES_ASSIGN_OR_RETURN(p.min_gain_ms, GetNumber(o, "min_gain_ms", base.min_gain_ms, "policy"));
  ES_ASSIGN_OR_RETURN(double cd, GetNumber(o, "cooldown_s", ToSeconds(base.cooldown), "policy"));
  ES_ASSIGN_OR_RETURN(p.weight_fetch_mbps, GetNumber(o, "weight_fetch_mbps", base.weight_fetch_mbps, "policy"));
  ES_ASSIGN_OR_RETURN(p.drift_fraction, GetNumber(o, "drift_fraction", base.drift_fraction, "policy"));
  ES_ASSIGN_OR_RETURN(double ev, GetNumber(o, "evaluate_interval_ms", ToMillis(base.evaluate_interval), "policy"));
  ES_ASSIGN_OR_RETURN(double sw, GetNumber(o, "slo_window_s", ToSeconds(base.slo_window), "policy"));
  ES_ASSIGN_OR_RETURN(p.confirm_evaluations, GetInt(o, "confirm_evaluations", base.confirm_evaluations, "policy"));
  ES_ASSIGN_OR_RETURN(p.resplit_margin_fraction,
                      GetNumber(o, "resplit_margin_fraction", base.resplit_margin_fraction, "policy"));
  ES_ASSIGN_OR_RETURN(p.cooldown_waiver_factor,
                      GetNumber(o, "cooldown_waiver_factor", base.cooldown_waiver_factor, "policy"));
  ES_ASSIGN_OR_RETURN(p.max_utilization, GetNumber(o, "max_utilization", base.max_utilization, "policy"));
  ES_ASSIGN_OR_RETURN(p.noise_factor, GetNumber(o, "noise_factor", base.noise_factor, "policy"));
  // Bounded before the conversion to Duration (int64 nanoseconds) so it cannot overflow; a
  // positive value that rounds to 0 ns is refused here rather than as "must be > 0" below.
  if (!(cd >= 0 && cd <= 1e6)) return InvalidArgument("policy.cooldown_s: must be in [0, 1e6]");
  if (!(ev >= 1e-3 && ev <= 1e9)) return InvalidArgument("policy.evaluate_interval_ms: must be in [0.001, 1e9]");
  if (!(sw >= 1e-3 && sw <= 1e6)) return InvalidArgument("policy.slo_window_s: must be in [0.001, 1e6]");
  if (!(period >= 1 && period <= 1e6)) return InvalidArgument("policy.period_s: must be in [1, 1e6]");
  p.period = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(period));
  p.cooldown = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(cd));
  p.evaluate_interval = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(ev));
  p.slo_window = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(sw));
  Status st = p.Validate();
  if (!st.ok()) return InvalidArgument("policy: " + st.message());
  return p;
}

json::object PolicyToJson(const PolicySettings& p) {
  return {{"horizon_s", p.horizon_s},
          {"min_request_rate", p.min_request_rate},
          {"hysteresis_fraction", p.hysteresis_fraction},
          {"min_gain_ms", p.min_gain_ms},
          {"cooldown_s", ToSeconds(p.cooldown)},
          {"weight_fetch_mbps", p.weight_fetch_mbps},
          {"drift_fraction", p.drift_fraction},
          {"evaluate_interval_ms", ToMillis(p.evaluate_interval)},
          {"slo_window_s", ToSeconds(p.slo_window)},
          {"confirm_evaluations", p.confirm_evaluations},
          {"resplit_margin_fraction", p.resplit_margin_fraction},
          {"cooldown_waiver_factor", p.cooldown_waiver_factor},
          {"mode", PolicyModeName(p.mode)},
          {"period_s", ToSeconds(p.period)},
          {"max_utilization", p.max_utilization},
          {"noise_factor", p.noise_factor}};
}

json::object NodeToJson(const NodeRecord& n, TimePoint now) {
  json::array segs;
  for (const auto& s : n.profile.segments) {
    json::array ms;
    for (double d : s.layer_ms) ms.push_back(Num(d));
    segs.push_back(json::object{{"deployment", s.deployment}, {"epoch", s.epoch}, {"model", s.model},
                                {"first_layer", s.first_layer}, {"end_layer", s.end_layer}, {"state", s.state},
                                {"active", s.active}, {"layer_ms", ms}, {"queue_depth", s.queue_depth},
                                {"request_rate", Num(s.request_rate)}, {"busy_fraction", Num(s.busy_fraction)},
                                {"answered_p50_ms", Num(s.answered_p50_ms)},
                                {"requests_total", s.requests_total}, {"failures_total", s.failures_total}});
  }
  json::array links;
  for (const auto& l : n.profile.links) {
    links.push_back(json::object{{"peer", l.peer}, {"rtt_ms", Num(l.rtt_ms)}, {"bandwidth_mbps", Num(l.bandwidth_mbps)},
                                 {"error", l.error}, {"source", l.source}});
  }
  return {{"name", n.name},
          {"state", NodeStateName(n.state)},
          {"connected", n.connected},
          {"data_address", n.data_address},
          {"agent_version", n.agent_version},
          {"trusted", n.trusted},
          {"trust_source", TrustSourceName(n.trust_source)},
          {"claims_trusted", n.claims_trusted},
          {"incarnation", n.incarnation},
          {"last_seen_ms_ago", Num(ToMillis(now - n.last_seen))},
          {"heartbeats_total", n.heartbeats_total},
          {"profile_version", n.profile.version},
          {"cores", n.profile.cores},
          {"cpu_utilization", Num(n.profile.cpu_utilization)},
          {"memory_total_bytes", n.profile.memory_total_bytes},
          {"memory_available_bytes", n.profile.memory_available_bytes},
          {"speed", Num(n.EffectiveSpeed())},
          {"speed_measured", n.profile.speed_factor > 0},  // false: 1 until the agent's first compute probe
          {"compute_slowdown", Num(n.profile.compute_slowdown)},
          {"egress_mbps", Num(n.profile.egress_mbps)},
          {"uplink_cap_mbps", Num(n.uplink_cap_mbps)},  // 0: no evidence the node's uplink limits
          {"active_sessions", n.profile.active_sessions},
          {"kv_bytes", n.profile.kv_bytes},
          {"kv_budget_bytes", n.profile.kv_budget_bytes},
          {"segments", segs},
          {"links", links}};
}

json::object ModelToJson(const CatalogModel& m) {
  json::array layers;
  for (int i = 0; i < m.num_layers(); ++i) {
    const auto& l = m.manifest.layers[i];
    layers.push_back(json::object{{"index", i}, {"name", l.name}, {"param_bytes", l.param_bytes},
                                  {"output_bytes", l.output.Bytes()}, {"reference_ms", Num(m.reference_layer_ms[i])}});
  }
  json::array shape;
  for (auto d : m.manifest.input.shape) shape.push_back(d);
  json::value generation = nullptr;  // null: the model cannot generate
  if (m.manifest.generation)
    generation = json::object{{"max_context", m.manifest.generation->max_context}, {"vocab", m.manifest.generation->vocab}};
  return {{"name", m.name},
          {"family", m.manifest.family},
          {"num_layers", m.num_layers()},
          {"input", json::object{{"dtype", DTypeName(m.manifest.input.dtype)}, {"shape", shape}}},
          {"total_param_bytes", m.manifest.TotalParamBytes()},
          {"profile_source", m.profile_source},
          {"generation", generation},
          {"layers", layers}};
}

json::array StagesToJson(const std::vector<StageTarget>& st) {
  json::array a;
  for (const auto& s : st) {
    a.push_back(json::object{{"node", s.node}, {"address", s.data_address}, {"first_layer", s.first_layer},
                             {"end_layer", s.end_layer}});
  }
  return a;
}

Result<std::vector<StageTarget>> StagesFromJson(const json::value& v) {
  if (!v.is_array()) return InvalidArgument("stages: must be an array");
  std::vector<StageTarget> out;
  const auto& arr = v.as_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string where = "stages[" + std::to_string(i) + "]";
    if (!arr[i].is_object()) return InvalidArgument(where + ": must be an object");
    const auto& o = arr[i].as_object();
    ES_RETURN_IF_ERROR(CheckKeys(o, {"node", "address", "first_layer", "end_layer"}, where));
    StageTarget s;
    ES_ASSIGN_OR_RETURN(s.node, GetName(o, "node", "", where));
    ES_ASSIGN_OR_RETURN(s.data_address, GetName(o, "address", "", where));
    ES_ASSIGN_OR_RETURN(s.first_layer, GetInt(o, "first_layer", 0, where, 0, kMaxJsonLayers));
    ES_ASSIGN_OR_RETURN(s.end_layer, GetInt(o, "end_layer", 0, where, 0, kMaxJsonLayers));
    if (s.node.empty()) return InvalidArgument(where + ".node: required non-empty string");
    if (s.end_layer <= s.first_layer) return InvalidArgument(where + ": end_layer must be > first_layer");
    // A plan is a pipeline: the stages cover layers 0.. without gaps or overlaps.
    const int expected_first = out.empty() ? 0 : out.back().end_layer;
    if (s.first_layer != expected_first)
      return InvalidArgument(where + ".first_layer: must be " + std::to_string(expected_first) +
                             (out.empty() ? " (the first stage starts at layer 0)" : " (the previous stage's end_layer)"));
    out.push_back(std::move(s));
  }
  return out;
}

json::object DeploymentToJson(const Deployment& d, TimePoint now, Duration window) {
  json::object o = DeploymentSpecToJson(d.spec);
  o["status"] = DeploymentStatusName(d.status);
  o["status_reason"] = d.status_reason;
  o["epoch"] = d.epoch;
  o["stages"] = StagesToJson(d.stages);
  o["predicted_latency_ms"] = Num(d.predicted_latency_ms);
  o["predicted_period_ms"] = Num(d.predicted_period_ms);
  o["observed_p50_ms"] = Num(d.ObservedP50(now, window));
  o["requests_total"] = d.requests_total;
  o["failures_total"] = d.failures_total;
  o["reconfigurations"] = d.reconfigurations;
  o["weight_bytes_moved"] = Num(d.weight_bytes_moved);
  if (d.rollout) {
    o["rollout"] = json::object{{"phase", RolloutPhaseName(d.rollout->phase())},
                                {"to_epoch", d.rollout->spec().to_epoch},
                                {"kind", DecisionKindName(d.rollout_decision.kind)},
                                {"trigger", TriggerName(d.rollout_decision.trigger)},
                                {"stages", StagesToJson(d.rollout->spec().to)}};
  } else {
    o["rollout"] = nullptr;
  }
  return o;
}

json::object EventToJson(const Event& e, TimePoint origin, int64_t origin_unix_ms) {
  return {{"seq", e.seq},
          {"t_ms", Num(ToMillis(e.at - origin))},
          {"unix_ms", origin_unix_ms > 0 ? json::value(origin_unix_ms + static_cast<int64_t>(ToMillis(e.at - origin))) : json::value(nullptr)},
          {"type", e.type},
          {"deployment", e.deployment},
          {"node", e.node},
          {"kind", e.kind},
          {"trigger", e.trigger},
          {"reason", e.reason},
          {"epoch", e.epoch},
          {"predicted_gain_ms", Num(e.predicted_gain_ms)},
          {"cost_ms", Num(e.cost_ms)},
          {"current_ms", Num(e.current_ms)},
          {"candidate_ms", Num(e.candidate_ms)},
          {"duration_ms", Num(e.duration_ms)},
          {"stages", e.stages},
          {"live_sessions", e.live_sessions},
          {"session_cost_ms", Num(e.session_cost_ms)},
          {"session_move", e.session_move.empty() ? json::value(nullptr) : json::value(e.session_move)},
          {"kv_bytes", Num(e.kv_bytes)}};
}

json::object PlanResultToJsonObject(const planner::PlanResult& r) {
  json::array stages;
  for (const auto& s : r.stages) {
    stages.push_back(json::object{{"node", s.node}, {"first_layer", s.first_layer}, {"end_layer", s.end_layer}});
  }
  json::object o{{"status", planner::PlanStatusName(r.status)},
                 {"objective", planner::ObjectiveKindName(r.objective)},
                 {"value", Num(r.value)},
                 {"latency_ms", Num(r.latency_ms)},
                 {"period_ms", Num(r.period_ms)},
                 {"lower_bound", Num(r.lower_bound)},
                 {"stages", stages},
                 {"solve_ms", Num(r.solve_ms)}};
  if (!r.reason.empty()) o["reason"] = r.reason;
  return o;
}

}  // namespace edgesplit::orch
