#include "orchestrator/api/completion_client.h"

#include <optional>

#include <boost/json.hpp>

#include "orchestrator/api/generate_client.h"  // ErrorFrom

namespace edgesplit::orch {

namespace json = boost::json;

Result<CompletionReply> PostCompletionStream(
    RestClient& client, const std::string& body_json,
    const std::function<void(const std::string& text, const std::string& chunk)>& on_text) {
  CompletionReply out;
  std::optional<Status> failed;
  bool finished = false, done = false;
  auto on_event = [&](const std::string& data) {
    if (data == "[DONE]") {
      done = true;
      return false;
    }
    auto chunk = EventObject(data, "chunk");
    if (!chunk.ok()) {
      failed = chunk.status();
      return false;
    }
    const json::object& o = *chunk;
    const auto* choices = o.if_contains("choices");
    if (!choices || !choices->is_array() || choices->as_array().size() != 1 || !choices->as_array()[0].is_object()) {
      failed = Internal("malformed chunk (no choice): " + data.substr(0, 200));
      return false;
    }
    const auto& c = choices->as_array()[0].as_object();
    std::string text;
    if (const auto* t = c.if_contains("text"); t && t->is_string()) text = std::string(t->as_string());
    if (const auto* ids = c.if_contains("token_ids"); ids && ids->is_array())
      for (const auto& id : ids->as_array())
        if (id.is_int64()) out.token_ids.push_back(id.as_int64());
    out.text += text;
    if (on_text && !text.empty()) on_text(text, data);
    if (const auto* f = c.if_contains("finish_reason"); f && f->is_string()) {
      finished = true;
      out.finish_reason = std::string(f->as_string());
      out.json = data;
      if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
        const auto& uo = u->as_object();
        if (const auto* p = uo.if_contains("prompt_tokens"); p && p->is_int64()) out.prompt_tokens = p->as_int64();
        if (const auto* p = uo.if_contains("completion_tokens"); p && p->is_int64()) out.completion_tokens = p->as_int64();
      }
    }
    return true;
  };
  auto r = client.CallStream("POST", "/v1/completions", body_json, on_event);
  if (!r.ok()) return r.status();
  if (r->status < 200 || r->status >= 300) {
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    if (!ec && v.is_object() && v.as_object().if_contains("error"))
      return ErrorFrom(v.as_object().at("error"), "HTTP " + std::to_string(r->status));
    return Internal("HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 200));
  }
  if (failed) return *failed;
  if (!finished || !done) return Unavailable("the stream ended before its last chunk and [DONE]");
  return out;
}

}  // namespace edgesplit::orch
