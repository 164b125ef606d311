#include "orchestrator/api/json_codec.h"

#include <cmath>
#include <cstring>

#include <boost/json.hpp>

namespace edgesplit::orch {

namespace json = boost::json;

json::value Num(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

Result<json::value> ParseJson(const std::string& text) {
  json::error_code ec;
  json::parse_options opt;
  opt.max_depth = 32;
  json::value v = json::parse(text, ec, {}, opt);
  if (ec) return InvalidArgument("malformed JSON: " + ec.message());
  return v;
}

Status CheckKeys(const json::object& o, const std::vector<std::string>& allowed, const std::string& where) {
  for (const auto& kv : o) {
    bool ok = false;
    for (const auto& a : allowed) ok = ok || kv.key() == a;
    if (!ok) return InvalidArgument(where + ": unknown key \"" + std::string(kv.key()) + "\"");
  }
  return Status::Ok();
}

namespace {

Result<double> GetNumber(const json::object& o, const char* key, double def, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v) return def;
  if (!v->is_number()) return InvalidArgument(where + "." + key + ": must be a number");
  double d = v->to_number<double>();
  if (!std::isfinite(d)) return InvalidArgument(where + "." + key + ": must be finite");
  return d;
}

Result<std::string> GetString(const json::object& o, const char* key, const std::string& def, const std::string& where) {
  const json::value* v = o.if_contains(key);
  if (!v) return def;
  if (!v->is_string()) return InvalidArgument(where + "." + key + ": must be a string");
  return std::string(v->as_string());
}

Result<int> GetInt(const json::object& o, const char* key, int def, const std::string& where) {
  ES_ASSIGN_OR_RETURN(double d, GetNumber(o, key, def, where));
  if (d != std::floor(d) || d < -1e9 || d > 1e9) return InvalidArgument(where + "." + key + ": must be an integer");
  return static_cast<int>(d);
}

}  // namespace

Result<DeploymentSpec> DeploymentSpecFromJson(const json::value& v, bool require_name) {
  if (!v.is_object()) return InvalidArgument("deployment: body must be a JSON object");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"name", "model", "entry_node", "objective", "slo_latency_ms",
                                   "trusted_prefix_layers", "max_stages"}, "deployment"));
  DeploymentSpec s;
  ES_ASSIGN_OR_RETURN(s.name, GetString(o, "name", require_name ? "" : "preview", "deployment"));
  ES_ASSIGN_OR_RETURN(s.model, GetString(o, "model", "", "deployment"));
  ES_ASSIGN_OR_RETURN(s.entry_node, GetString(o, "entry_node", "", "deployment"));
  ES_ASSIGN_OR_RETURN(s.slo_latency_ms, GetNumber(o, "slo_latency_ms", 0, "deployment"));
  ES_ASSIGN_OR_RETURN(s.trusted_prefix_layers, GetInt(o, "trusted_prefix_layers", 0, "deployment"));
  ES_ASSIGN_OR_RETURN(s.max_stages, GetInt(o, "max_stages", 0, "deployment"));
  if (const json::value* obj = o.if_contains("objective")) {
    if (obj->is_string()) {
      ES_ASSIGN_OR_RETURN(s.objective.kind, planner::ParseObjectiveKind(std::string(obj->as_string())));
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
          {"max_stages", s.max_stages}};
}

Result<PolicySettings> PolicyFromJson(const json::value& v, const PolicySettings& base) {
  if (!v.is_object()) return InvalidArgument("policy: body must be a JSON object");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"horizon_s", "min_request_rate", "hysteresis_fraction", "min_gain_ms", "cooldown_s",
                                   "weight_fetch_mbps", "drift_fraction", "evaluate_interval_ms", "slo_window_s", "confirm_evaluations"},
                               "policy"));
  PolicySettings p = base;
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
  if (cd < 0 || cd > 1e6 || ev <= 0 || ev > 1e9 || sw <= 0 || sw > 1e6)
    return InvalidArgument("policy: cooldown_s, evaluate_interval_ms and slo_window_s out of range");
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
          {"confirm_evaluations", p.confirm_evaluations}};
}

json::object NodeToJson(const NodeRecord& n, TimePoint now) {
  json::array segs;
  for (const auto& s : n.profile.segments) {
    json::array ms;
    for (double d : s.layer_ms) ms.push_back(Num(d));
    segs.push_back(json::object{{"deployment", s.deployment}, {"epoch", s.epoch}, {"model", s.model},
                                {"first_layer", s.first_layer}, {"end_layer", s.end_layer}, {"state", s.state},
                                {"active", s.active}, {"layer_ms", ms}, {"queue_depth", s.queue_depth},
                                {"request_rate", Num(s.request_rate)}, {"requests_total", s.requests_total},
                                {"failures_total", s.failures_total}});
  }
  json::array links;
  for (const auto& l : n.profile.links) {
    links.push_back(json::object{{"peer", l.peer}, {"rtt_ms", Num(l.rtt_ms)}, {"bandwidth_mbps", Num(l.bandwidth_mbps)},
                                 {"error", l.error}});
  }
  return {{"name", n.name},
          {"state", NodeStateName(n.state)},
          {"connected", n.connected},
          {"data_address", n.data_address},
          {"agent_version", n.agent_version},
          {"trusted", n.trusted},
          {"incarnation", n.incarnation},
          {"last_seen_ms_ago", Num(ToMillis(now - n.last_seen))},
          {"heartbeats_total", n.heartbeats_total},
          {"profile_version", n.profile.version},
          {"cores", n.profile.cores},
          {"cpu_utilization", Num(n.profile.cpu_utilization)},
          {"memory_total_bytes", n.profile.memory_total_bytes},
          {"memory_available_bytes", n.profile.memory_available_bytes},
          {"speed", Num(n.EffectiveSpeed())},
          {"compute_slowdown", Num(n.profile.compute_slowdown)},
          {"egress_mbps", Num(n.profile.egress_mbps)},
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
  return {{"name", m.name},
          {"family", m.manifest.family},
          {"num_layers", m.num_layers()},
          {"input", json::object{{"dtype", DTypeName(m.manifest.input.dtype)}, {"shape", shape}}},
          {"total_param_bytes", m.manifest.TotalParamBytes()},
          {"profile_source", m.profile_source},
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
  for (const auto& e : v.as_array()) {
    if (!e.is_object()) return InvalidArgument("stages[]: must be objects");
    const auto& o = e.as_object();
    StageTarget s;
    ES_ASSIGN_OR_RETURN(s.node, GetString(o, "node", "", "stages[]"));
    ES_ASSIGN_OR_RETURN(s.data_address, GetString(o, "address", "", "stages[]"));
    ES_ASSIGN_OR_RETURN(s.first_layer, GetInt(o, "first_layer", 0, "stages[]"));
    ES_ASSIGN_OR_RETURN(s.end_layer, GetInt(o, "end_layer", 0, "stages[]"));
    if (s.node.empty() || s.end_layer <= s.first_layer) return InvalidArgument("stages[]: bad stage");
    out.push_back(s);
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
          {"duration_ms", Num(e.duration_ms)}};
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

Result<HostTensor> TensorFromJson(const json::value& v, size_t max_bytes) {
  if (!v.is_object()) return InvalidArgument("tensor: body must be a JSON object with dtype, shape, data");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"dtype", "shape", "data"}, "tensor"));
  const json::value* dt = o.if_contains("dtype");
  const json::value* sh = o.if_contains("shape");
  const json::value* data = o.if_contains("data");
  if (!dt || !dt->is_string()) return InvalidArgument("tensor.dtype: required string");
  if (!sh || !sh->is_array()) return InvalidArgument("tensor.shape: required array");
  if (!data || !data->is_array()) return InvalidArgument("tensor.data: required flat array");
  auto dtype = ParseDType(std::string(dt->as_string()));
  if (!dtype.ok()) return InvalidArgument("tensor.dtype: " + dtype.status().message());
  std::vector<int64_t> shape;
  for (const auto& d : sh->as_array()) {
    if (!d.is_int64() && !d.is_uint64()) return InvalidArgument("tensor.shape: dims must be integers");
    shape.push_back(d.to_number<int64_t>());
  }
  auto numel = CheckedNumel(shape, *dtype, max_bytes);
  if (!numel.ok()) return InvalidArgument("tensor.shape: " + numel.status().message());
  const auto& arr = data->as_array();
  if (arr.size() != *numel)
    return InvalidArgument("tensor.data: " + std::to_string(arr.size()) + " values for shape " + ShapeToString(shape));
  HostTensor t = HostTensor::Allocate(*dtype, shape);
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_number()) return InvalidArgument("tensor.data: values must be numbers");
    switch (*dtype) {
      case DType::kFloat32: {
        float f = static_cast<float>(arr[i].to_number<double>());
        std::memcpy(t.data + i * 4, &f, 4);
        break;
      }
      case DType::kInt64: {
        if (!arr[i].is_int64() && !arr[i].is_uint64()) return InvalidArgument("tensor.data: int64 values must be integers");
        int64_t x = arr[i].to_number<int64_t>();
        std::memcpy(t.data + i * 8, &x, 8);
        break;
      }
      case DType::kInt32: {
        if (!arr[i].is_int64() && !arr[i].is_uint64()) return InvalidArgument("tensor.data: int32 values must be integers");
        int64_t x = arr[i].to_number<int64_t>();
        if (x < INT32_MIN || x > INT32_MAX) return InvalidArgument("tensor.data: int32 value out of range");
        int32_t y = static_cast<int32_t>(x);
        std::memcpy(t.data + i * 4, &y, 4);
        break;
      }
      default:
        return InvalidArgument("tensor.dtype: JSON tensors support float32, int64 and int32 (use .npy for float16)");
    }
  }
  return t;
}

json::object TensorToJson(const HostTensor& t) {
  json::array shape;
  for (auto d : t.shape) shape.push_back(d);
  json::array data;
  const size_t n = t.numel();
  data.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::kFloat32: {
        float f;
        std::memcpy(&f, t.data + i * 4, 4);
        data.push_back(Num(f));
        break;
      }
      case DType::kInt64: {
        int64_t x;
        std::memcpy(&x, t.data + i * 8, 8);
        data.push_back(x);
        break;
      }
      case DType::kInt32: {
        int32_t x;
        std::memcpy(&x, t.data + i * 4, 4);
        data.push_back(x);
        break;
      }
      case DType::kFloat16: {
        uint16_t h;
        std::memcpy(&h, t.data + i * 2, 2);
        // IEEE half to float.
        uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
        float f;
        if (exp == 0) {
          f = std::ldexp(static_cast<float>(man), -24);
          if (sign) f = -f;
        } else {
          uint32_t bits = sign | ((exp == 31 ? 255 : exp - 15 + 127) << 23) | (man << 13);
          std::memcpy(&f, &bits, 4);
        }
        data.push_back(Num(f));
        break;
      }
    }
  }
  return {{"dtype", DTypeName(t.dtype)}, {"shape", shape}, {"data", data}};
}

}  // namespace edgesplit::orch
