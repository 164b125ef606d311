#include "orchestrator/api/generate_client.h"

#include <optional>

#include <boost/json.hpp>

#include "agent/transport/frame.h"  // StatusCodeFromName

namespace edgesplit::orch {

namespace json = boost::json;

Status ErrorFrom(const json::value& err, const std::string& fallback) {
  if (!err.is_object()) return Internal(fallback);
  const auto& o = err.as_object();
  const auto* code = o.if_contains("code");
  const auto* msg = o.if_contains("message");
  return Status(code && code->is_string() ? transport::StatusCodeFromName(std::string(code->as_string()))
                                          : StatusCode::kInternal,
                msg && msg->is_string() ? std::string(msg->as_string()) : fallback);
}

Result<json::object> EventObject(const std::string& data, const char* what) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return Internal(std::string("malformed ") + what + ": " + data.substr(0, 200));
  if (const auto* err = v.as_object().if_contains("error")) {
    Status s = ErrorFrom(*err, data);
    return s.ok() ? Internal("error event with code ok: " + data.substr(0, 200)) : s;  // a Result holds errors only
  }
  return std::move(v.as_object());
}

namespace {

Result<GenerateReply> ReplyFrom(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return Internal("malformed generate reply: " + text.substr(0, 200));
  const auto& o = v.as_object();
  GenerateReply r;
  r.json = text;
  try {
    for (const auto& t : o.at("tokens").as_array()) r.tokens.push_back(t.to_number<int64_t>());
    r.finish_reason = std::string(o.at("finish_reason").as_string());
    r.prompt_tokens = o.at("prompt_tokens").to_number<int64_t>();
    if (o.at("ttft_ms").is_number()) r.ttft_ms = o.at("ttft_ms").to_number<double>();
    if (o.at("ms_per_token").is_number()) r.ms_per_token = o.at("ms_per_token").to_number<double>();
    if (auto* m = o.if_contains("moves"); m && m->is_number()) r.moves = m->to_number<int>();
    if (auto* m = o.if_contains("stall_ms_max"); m && m->is_number()) r.stall_ms_max = m->to_number<double>();
    r.epoch = o.at("epoch").to_number<uint64_t>();
  } catch (const std::exception& e) {
    return Internal(std::string("malformed generate reply: ") + e.what());
  }
  return r;
}

}  // namespace

Result<GenerateReply> PostGenerate(RestClient& client, const std::string& deployment, const std::string& body_json,
                                   const std::function<void(int64_t, int64_t, const std::string&)>& on_token) {
  std::optional<Result<GenerateReply>> end;  // the done or error event
  auto on_event = [&](const std::string& data) {
    auto event = EventObject(data, "event");
    if (!event.ok()) {
      end = event.status();
      return false;
    }
    const json::object& o = *event;
    if (o.if_contains("done")) {
      end = ReplyFrom(data);
      return false;
    }
    const auto* index = o.if_contains("index");
    const auto* token = o.if_contains("token");
    if (!index || !token || !index->is_int64() || !token->is_int64()) {
      end = Internal("malformed token event: " + data.substr(0, 200));
      return false;
    }
    if (on_token) on_token(index->as_int64(), token->as_int64(), data);
    return true;
  };
  auto r = client.CallStream("POST", "/v1/deployments/" + deployment + "/generate", body_json, on_event);
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status >= 300) {
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (!ec && v.is_object() && v.as_object().if_contains("error"))
      return ErrorFrom(v.as_object().at("error"), "HTTP " + std::to_string(r->status));
    return Internal("HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
  }
  if (r->content_type.rfind("text/event-stream", 0) == 0) {
    if (!end) return Unavailable("the stream ended before its done event");
    return std::move(*end);
  }
  return ReplyFrom(r->body);
}

}  // namespace edgesplit::orch
