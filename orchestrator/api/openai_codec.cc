#include "orchestrator/api/openai_codec.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include <boost/json.hpp>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/rest_api.h"

namespace edgesplit::orch {

namespace json = boost::json;

namespace {

// Fields OpenAI defines that we do not implement, with the value that asks for nothing (clients
// such as LangChain send e.g. "n": 1 or "presence_penalty": 0 unasked): any other value is refused.
bool IsNeutral(const std::string& key, const json::value& v) {
  if (v.is_null()) return true;
  if (key == "n" || key == "best_of") return v.is_number() && v.to_number<double>() == 1.0;
  if (key == "presence_penalty" || key == "frequency_penalty") return v.is_number() && v.to_number<double>() == 0.0;
  if (key == "logprobs" || key == "echo" || key == "parallel_tool_calls") return v.is_bool() && !v.as_bool();
  if (key == "logit_bias") return v.is_object() && v.as_object().empty();
  if (key == "tools" || key == "functions") return v.is_array() && v.as_array().empty();
  if (key == "suffix") return v.is_string() && v.as_string().empty();
  return false;
}

const std::vector<std::string> kUnsupported = {"n", "best_of", "presence_penalty", "frequency_penalty", "logprobs",
                                               "top_logprobs", "echo", "logit_bias", "suffix", "tools", "tool_choice",
                                               "functions", "function_call", "response_format", "parallel_tool_calls",
                                               "modalities", "audio", "prediction", "reasoning_effort", "service_tier",
                                               "store", "metadata"};

Result<int64_t> Int(const json::value& v, const std::string& field, int64_t lo, int64_t hi) {
  int64_t x = 0;
  if (v.is_int64()) {
    x = v.get_int64();
  } else if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<uint64_t>(hi)) return InvalidArgument(field + ": must be at most " + std::to_string(hi));
    x = static_cast<int64_t>(v.get_uint64());
  } else {
    return InvalidArgument(field + ": must be an integer");
  }
  if (x < lo || x > hi)
    return InvalidArgument(field + ": must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

Result<std::vector<int64_t>> TokenIds(const json::value& v, const std::string& field) {
  if (!v.is_array()) return InvalidArgument(field + ": must be an array of token ids");
  std::vector<int64_t> out;
  out.reserve(v.as_array().size());  // bounded by the body size limit
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    ES_ASSIGN_OR_RETURN(int64_t t, Int(v.as_array()[i], field + "[" + std::to_string(i) + "]", 0, INT64_MAX));
    out.push_back(t);
  }
  return out;
}

Result<std::string> ContentText(const json::value& v, const std::string& field) {
  if (v.is_string()) return std::string(v.as_string());
  if (!v.is_array()) return InvalidArgument(field + ": must be a string or an array of text parts");
  std::string out;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string pf = field + "[" + std::to_string(i) + "]";
    const json::value& part = v.as_array()[i];
    if (!part.is_object()) return InvalidArgument(pf + ": must be an object {\"type\": \"text\", \"text\": ...}");
    ES_RETURN_IF_ERROR(CheckKeys(part.as_object(), {"type", "text"}, pf));
    const auto* type = part.as_object().if_contains("type");
    if (!type || !type->is_string()) return InvalidArgument(pf + ".type: required string");
    if (type->as_string() != "text")
      return InvalidArgument(pf + ".type: " + QuoteForError(type->as_string()) + " is not supported (only \"text\")");
    const auto* text = part.as_object().if_contains("text");
    if (!text || !text->is_string()) return InvalidArgument(pf + ".text: required string");
    out += std::string(text->as_string());
  }
  return out;
}

Result<std::vector<ChatMessage>> Messages(const json::value& v) {
  if (!v.is_array()) return InvalidArgument("messages: must be an array of {\"role\", \"content\"}");
  const auto& a = v.as_array();
  if (a.empty()) return InvalidArgument("messages: must not be empty");
  if (a.size() > kMaxChatMessages) return InvalidArgument("messages: at most " + std::to_string(kMaxChatMessages));
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string f = "messages[" + std::to_string(i) + "]";
    if (!a[i].is_object()) return InvalidArgument(f + ": must be an object {\"role\", \"content\"}");
    const auto& o = a[i].as_object();
    for (const auto& kv : o)
      if (kv.key() != "role" && kv.key() != "content" && kv.key() != "name")
        return InvalidArgument(f + "." + std::string(kv.key()) + ": is not supported");
    const auto* role = o.if_contains("role");
    if (!role || !role->is_string()) return InvalidArgument(f + ".role: required string");
    ChatMessage m;
    m.role = std::string(role->as_string());
    if (m.role == "developer") m.role = "system";  // OpenAI's newer name for the system role
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      return InvalidArgument(f + ".role: " + QuoteForError(m.role) + " is not supported (system, user or assistant)");
    const auto* content = o.if_contains("content");
    if (!content) return InvalidArgument(f + ".content: required");
    ES_ASSIGN_OR_RETURN(m.content, ContentText(*content, f + ".content"));
    out.push_back(std::move(m));
  }
  return out;
}

const char* ErrorType(int http) {
  if (http == 401) return "authentication_error";
  if (http == 403) return "permission_error";
  if (http == 404) return "not_found_error";
  if (http == 429) return "rate_limit_error";
  if (http >= 500) return "server_error";
  return "invalid_request_error";
}

// The field a message starts with ("max_tokens: ..." -> max_tokens), if it looks like one.
json::value ParamOf(const std::string& message) {
  const size_t colon = message.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 64) return nullptr;
  if (message.compare(0, colon, "body") == 0) return nullptr;  // the whole body, not a field
  for (size_t i = 0; i < colon; ++i) {
    const char c = message[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' || c == ']')) return nullptr;
  }
  return json::string(message.substr(0, colon));
}

json::object Head(const OpenAiReplyHead& h, const char* object) {
  return {{"id", h.id}, {"object", object}, {"created", h.created}, {"model", h.model}};
}

json::array Ids(const std::vector<int64_t>& ids) {
  json::array a;
  a.reserve(ids.size());
  for (int64_t t : ids) a.push_back(t);
  return a;
}

json::object UsageJson(const OpenAiUsage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens}};
}

json::value Finish(const std::string& f) { return f.empty() ? json::value(nullptr) : json::value(json::string(f)); }

// The reply or chunk object around its one choice (which has its text or message already):
// the choice's finish reason and token ids, then the head with `object` and the choices.
json::object WithChoice(const OpenAiReplyHead& h, const char* object, json::object choice, const std::string& finish_reason,
                        const std::vector<int64_t>* token_ids) {
  choice["finish_reason"] = Finish(finish_reason);
  if (token_ids) choice["token_ids"] = Ids(*token_ids);
  json::object out = Head(h, object);
  out["choices"] = json::array{std::move(choice)};
  return out;
}

}  // namespace

Result<OpenAiRequest> OpenAiRequestFromJson(const json::value& v, OpenAiKind kind) {
  const bool chat = kind == OpenAiKind::kChat;
  if (!v.is_object()) return InvalidArgument(std::string("body: must be a JSON object with model and ") +
                                             (chat ? "messages" : "prompt"));
  const auto& o = v.as_object();
  OpenAiRequest r;
  r.kind = kind;
  for (const auto& kv : o) {
    const std::string k(kv.key());
    static const std::vector<std::string> kCommon = {"model", "max_tokens", "temperature", "top_p", "seed", "stop",
                                                     "stream", "stream_options", "user", "top_k", "stop_token_ids",
                                                     "return_token_ids", "add_bos"};
    bool known = std::find(kCommon.begin(), kCommon.end(), k) != kCommon.end() ||
                 (chat ? (k == "messages" || k == "max_completion_tokens") : k == "prompt");
    if (known) continue;
    if (std::find(kUnsupported.begin(), kUnsupported.end(), k) != kUnsupported.end()) {
      if (IsNeutral(k, kv.value())) continue;
      return InvalidArgument(k + ": is not supported by this server");
    }
    return InvalidArgument(k + ": unknown field");
  }
  const auto* model = o.if_contains("model");
  if (!model || !model->is_string() || model->as_string().empty())
    return InvalidArgument("model: required (the name of a deployment)");
  if (model->as_string().size() > kMaxJsonNameBytes) return InvalidArgument("model: name too long");
  r.model = std::string(model->as_string());
  if (chat) {
    const auto* m = o.if_contains("messages");
    if (!m) return InvalidArgument("messages: required");
    ES_ASSIGN_OR_RETURN(r.messages, Messages(*m));
  } else {
    const auto* p = o.if_contains("prompt");
    if (!p) return InvalidArgument("prompt: required (a string or an array of token ids)");
    if (p->is_string()) {
      r.prompt_text = std::string(p->as_string());
    } else if (p->is_array() && p->as_array().size() == 1 && p->as_array()[0].is_string()) {
      r.prompt_text = std::string(p->as_array()[0].as_string());  // a batch of one prompt
    } else if (p->is_array() && !p->as_array().empty() && p->as_array()[0].is_array()) {
      if (p->as_array().size() != 1) return InvalidArgument("prompt: one prompt per request (batches are not supported)");
      ES_ASSIGN_OR_RETURN(r.prompt_tokens, TokenIds(p->as_array()[0], "prompt[0]"));
      r.prompt_is_tokens = true;
    } else if (p->is_array() && !p->as_array().empty() && p->as_array()[0].is_string()) {
      return InvalidArgument("prompt: one prompt per request (batches are not supported)");
    } else if (p->is_array()) {
      ES_ASSIGN_OR_RETURN(r.prompt_tokens, TokenIds(*p, "prompt"));
      r.prompt_is_tokens = true;
    } else {
      return InvalidArgument("prompt: must be a string or an array of token ids");
    }
  }
  const json::value* max_tokens = o.if_contains("max_tokens");
  if (chat && o.if_contains("max_completion_tokens") && !o.at("max_completion_tokens").is_null()) {
    if (max_tokens && !max_tokens->is_null()) return InvalidArgument("max_completion_tokens: give max_tokens or this, not both");
    max_tokens = o.if_contains("max_completion_tokens");
  }
  if (max_tokens && !max_tokens->is_null()) {
    ES_ASSIGN_OR_RETURN(int64_t n, Int(*max_tokens, "max_tokens", 1, int64_t{1} << 20));
    r.max_tokens = n;
  }
  if (const auto* x = o.if_contains("temperature"); x && !x->is_null()) {
    if (!x->is_number()) return InvalidArgument("temperature: must be a number");
    r.temperature = x->to_number<double>();
    if (!std::isfinite(r.temperature) || r.temperature < 0 || r.temperature > 2)
      return InvalidArgument("temperature: must be a number in [0, 2]");
  }
  if (const auto* x = o.if_contains("top_p"); x && !x->is_null()) {
    if (!x->is_number()) return InvalidArgument("top_p: must be a number");
    r.top_p = x->to_number<double>();
    if (!std::isfinite(r.top_p) || r.top_p <= 0 || r.top_p > 1) return InvalidArgument("top_p: must be a number in (0, 1]");
  }
  if (const auto* x = o.if_contains("top_k"); x && !x->is_null()) {
    ES_ASSIGN_OR_RETURN(r.top_k, Int(*x, "top_k", 0, 1000000));
  }
  if (const auto* x = o.if_contains("seed"); x && !x->is_null()) {
    // OpenAI takes any integer; ours is the sampler's 64-bit seed (negative ones wrap).
    if (x->is_int64()) {
      r.seed = static_cast<uint64_t>(x->get_int64());
    } else if (x->is_uint64()) {
      r.seed = x->get_uint64();
    } else {
      return InvalidArgument("seed: must be an integer");
    }
  }
  if (const auto* x = o.if_contains("stop"); x && !x->is_null()) {
    if (x->is_string()) {
      r.stop.emplace_back(x->as_string());
    } else if (x->is_array()) {
      if (x->as_array().size() > kMaxStopStrings)
        return InvalidArgument("stop: at most " + std::to_string(kMaxStopStrings) + " strings");
      for (size_t i = 0; i < x->as_array().size(); ++i) {
        const auto& s = x->as_array()[i];
        if (!s.is_string()) return InvalidArgument("stop[" + std::to_string(i) + "]: must be a string");
        r.stop.emplace_back(s.as_string());
      }
    } else {
      return InvalidArgument("stop: must be a string or an array of strings");
    }
    for (const auto& s : r.stop) {
      if (s.empty()) return InvalidArgument("stop: strings must not be empty");
      if (s.size() > 256) return InvalidArgument("stop: strings of at most 256 bytes");
    }
  }
  if (const auto* x = o.if_contains("stop_token_ids"); x && !x->is_null()) {
    ES_ASSIGN_OR_RETURN(r.stop_token_ids, TokenIds(*x, "stop_token_ids"));
  }
  for (auto [name, dst] : {std::pair{"stream", &r.stream}, std::pair{"return_token_ids", &r.return_token_ids},
                           std::pair{"add_bos", &r.add_bos}}) {
    if (const auto* x = o.if_contains(name); x && !x->is_null()) {
      if (!x->is_bool()) return InvalidArgument(std::string(name) + ": must be a boolean");
      *dst = x->as_bool();
    }
  }
  if (const auto* x = o.if_contains("stream_options"); x && !x->is_null()) {
    // Usage is always in the last chunk; include_usage is accepted for clients that ask for it.
    if (!x->is_object()) return InvalidArgument("stream_options: must be an object");
    for (const auto& kv : x->as_object())
      if (kv.key() != "include_usage" || !kv.value().is_bool())
        return InvalidArgument("stream_options." + std::string(kv.key()) + ": is not supported");
  }
  if (const auto* x = o.if_contains("user"); x && !x->is_null() && !x->is_string())
    return InvalidArgument("user: must be a string");
  return r;
}

std::string OpenAiErrorJson(const Status& s) {
  const int http = HttpStatusFor(s.code());
  return json::serialize(json::object{{"error", json::object{{"message", s.message()},
                                                             {"type", ErrorType(http)},
                                                             {"param", ParamOf(s.message())},
                                                             {"code", StatusCodeName(s.code())}}}});
}

HttpResponse OpenAiErrorResponse(const Status& s, int http_status) {
  const int http = http_status ? http_status : HttpStatusFor(s.code());
  json::object err{{"message", s.message()}, {"type", ErrorType(http)}, {"param", ParamOf(s.message())},
                   {"code", StatusCodeName(s.code())}};
  return HttpResponse::Json(http, json::serialize(json::object{{"error", std::move(err)}}));
}

json::object OpenAiReplyJson(const OpenAiReplyHead& h, const std::string& text, const std::string& finish_reason,
                             const OpenAiUsage& usage, const std::vector<int64_t>* token_ids) {
  const bool chat = h.kind == OpenAiKind::kChat;
  json::object choice{{"index", 0}};
  if (chat) {
    choice["message"] = json::object{{"role", "assistant"}, {"content", text}};
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  json::object out = WithChoice(h, chat ? "chat.completion" : "text_completion", std::move(choice), finish_reason, token_ids);
  out["usage"] = UsageJson(usage);
  return out;
}

std::string OpenAiChunkJson(const OpenAiReplyHead& h, const std::string& text, const std::string& finish_reason,
                            const OpenAiUsage* usage, const std::vector<int64_t>* token_ids, bool role) {
  const bool chat = h.kind == OpenAiKind::kChat;
  json::object choice{{"index", 0}};
  if (chat) {
    json::object delta;
    if (role) delta["role"] = "assistant";
    if (!text.empty() || role) delta["content"] = text;
    choice["delta"] = std::move(delta);
  } else {
    choice["text"] = text;
    choice["logprobs"] = nullptr;
  }
  json::object out =
      WithChoice(h, chat ? "chat.completion.chunk" : "text_completion", std::move(choice), finish_reason, token_ids);
  if (usage) out["usage"] = UsageJson(*usage);
  return json::serialize(out);
}

json::object OpenAiModelJson(const std::string& deployment, int64_t created) {
  return {{"id", deployment}, {"object", "model"}, {"created", created}, {"owned_by", "edgesplit"}};
}

}  // namespace edgesplit::orch
