#include "orchestrator/api/generate_codec.h"

#include <cmath>

#include <boost/json.hpp>

#include "orchestrator/api/json_codec.h"

namespace edgesplit::orch {

namespace json = boost::json;

namespace {

// A JSON integer >= 0 that fits `max` (2.0 is a double, not an integer: token ids and counts are
// written as integers). Not to_number: it throws on values it cannot represent.
Result<uint64_t> NonNegativeInt(const json::value& v, const std::string& field, uint64_t max) {
  uint64_t u = 0;
  if (v.is_int64()) {
    if (v.get_int64() < 0) return InvalidArgument(field + ": must be a non-negative integer");
    u = static_cast<uint64_t>(v.get_int64());
  } else if (v.is_uint64()) {
    u = v.get_uint64();
  } else if (v.is_double()) {
    return InvalidArgument(field + ": must be an integer");
  } else {
    return InvalidArgument(field + ": must be a non-negative integer");
  }
  if (u > max) return InvalidArgument(field + ": must be at most " + std::to_string(max));
  return u;
}

Result<double> NonNegativeNumber(const json::value& v, const std::string& field) {
  if (!v.is_number()) return InvalidArgument(field + ": must be a number");
  const double d = v.to_number<double>();  // every JSON number converts to double
  if (!std::isfinite(d)) return InvalidArgument(field + ": must be finite");
  if (d < 0) return InvalidArgument(field + ": must be non-negative");
  return d;
}

// Token ids as int64 (the model checks them against its vocabulary later).
Result<std::vector<int64_t>> TokenArray(const json::value& v, const std::string& field) {
  if (!v.is_array()) return InvalidArgument(field + ": must be an array of token ids");
  const auto& a = v.as_array();
  std::vector<int64_t> out;
  out.reserve(a.size());  // bounded by the body size limit
  for (size_t i = 0; i < a.size(); ++i) {
    ES_ASSIGN_OR_RETURN(uint64_t t, NonNegativeInt(a[i], field + "[" + std::to_string(i) + "]", INT64_MAX));
    out.push_back(static_cast<int64_t>(t));
  }
  return out;
}

}  // namespace

Result<GenerateBody> GenerateBodyFromJson(const json::value& v) {
  if (!v.is_object()) return InvalidArgument("generate: body must be a JSON object with prompt_tokens");
  const auto& o = v.as_object();
  ES_RETURN_IF_ERROR(CheckKeys(o, {"prompt_tokens", "max_new_tokens", "temperature", "top_k", "top_p", "seed",
                                   "stop_tokens", "stream"},
                               "generate"));
  GenerateBody b;
  const json::value* prompt = o.if_contains("prompt_tokens");
  if (!prompt) return InvalidArgument("prompt_tokens: required (an array of token ids)");
  ES_ASSIGN_OR_RETURN(b.request.prompt, TokenArray(*prompt, "prompt_tokens"));
  if (const auto* x = o.if_contains("max_new_tokens")) {
    ES_ASSIGN_OR_RETURN(uint64_t n, NonNegativeInt(*x, "max_new_tokens", INT64_MAX));
    b.request.max_new_tokens = static_cast<int64_t>(n);
  }
  if (const auto* x = o.if_contains("temperature")) {
    ES_ASSIGN_OR_RETURN(b.request.sampling.temperature, NonNegativeNumber(*x, "temperature"));
  }
  if (const auto* x = o.if_contains("top_k")) {
    ES_ASSIGN_OR_RETURN(uint64_t k, NonNegativeInt(*x, "top_k", INT64_MAX));
    b.request.sampling.top_k = static_cast<int64_t>(k);
  }
  if (const auto* x = o.if_contains("top_p")) {
    ES_ASSIGN_OR_RETURN(b.request.sampling.top_p, NonNegativeNumber(*x, "top_p"));
  }
  if (const auto* x = o.if_contains("seed")) {
    ES_ASSIGN_OR_RETURN(b.request.sampling.seed, NonNegativeInt(*x, "seed", UINT64_MAX));
  }
  if (const auto* x = o.if_contains("stop_tokens")) {
    ES_ASSIGN_OR_RETURN(b.request.stop_tokens, TokenArray(*x, "stop_tokens"));
  }
  if (const auto* x = o.if_contains("stream")) {
    if (!x->is_bool()) return InvalidArgument("stream: must be a boolean");
    b.stream = x->as_bool();
  }
  return b;
}

json::object GenerateOutcomeToJson(const GenerateOutcome& o) {
  json::array tokens;
  tokens.reserve(o.tokens.size());
  for (int64_t t : o.tokens) tokens.push_back(t);
  return {{"tokens", std::move(tokens)},   {"finish_reason", o.finish_reason}, {"prompt_tokens", o.prompt_tokens},
          {"ttft_ms", Num(o.ttft_ms)},     {"ms_per_token", Num(o.ms_per_token)}, {"moves", o.moves},
          {"stall_ms_max", Num(o.stall_ms_max)}, {"epoch", o.epoch}};
}

std::string TokenEventJson(int64_t index, int64_t token) {
  return "{\"index\": " + std::to_string(index) + ", \"token\": " + std::to_string(token) + "}";
}

std::string DoneEventJson(const GenerateOutcome& o) {
  json::object obj = GenerateOutcomeToJson(o);
  json::object out{{"done", true}};
  for (auto& kv : obj) out[kv.key()] = std::move(kv.value());
  return json::serialize(out);
}

std::string ErrorEventJson(const Status& s) {
  return json::serialize(
      json::object{{"error", json::object{{"code", StatusCodeName(s.code())}, {"message", s.message()}}}});
}

}  // namespace edgesplit::orch
