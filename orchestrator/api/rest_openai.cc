// POST /v1/completions and POST /v1/chat/completions: OpenAI's wire format over the same
// GenerateFn as the native generate endpoint. The tokenizer runs here, on the orchestrator
// (never on an agent): text is encoded on the controller's thread, generated ids are decoded as
// they stream (StreamDecoder), stop strings end a generation (StopMatcher; the gateway then
// cancels the session). A stream starts with the first token, so errors before it are plain
// OpenAI error objects with their HTTP status.
#include <algorithm>
#include <cstdio>
#include <memory>

#include <boost/json.hpp>

#include "common/base/random_id.h"
#include "common/http/sse.h"
#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/openai_codec.h"
#include "orchestrator/api/rest_api.h"

namespace edgesplit::orch {

namespace {

// One request's state between the GenerateFn's callbacks (which never run concurrently).
class OpenAiSession {
 public:
  OpenAiSession(Responder respond, OpenAiReplyHead head, std::shared_ptr<const Tokenizer> tok,
                const std::vector<int64_t>& prompt, std::vector<std::string> stop, bool stream, bool return_ids)
      : respond_(std::move(respond)),
        head_(std::move(head)),
        tok_(std::move(tok)),
        decoder_(tok_.get(), prompt),
        matcher_(std::move(stop)),
        prompt_tokens_(static_cast<int64_t>(prompt.size())),
        stream_(stream),
        return_ids_(return_ids) {}

  bool OnToken(int64_t, int64_t token) {
    tokens_.push_back(token);
    pending_ids_.push_back(token);
    auto delta = decoder_.Push(token);
    if (!delta.ok()) {
      error_ = Internal("detokenizing the generated tokens: " + delta.status().message());
      return false;
    }
    const std::string out = matcher_.Push(*delta);
    text_ += out;
    if (stream_ && (!out.empty() || return_ids_)) {
      if (!WriteChunk(out, "", nullptr)) return false;  // the client is gone or too slow: cancel
    }
    return !matcher_.stopped();  // a stop string ends the generation
  }

  void Done(Result<GenerationSummary> r) {
    const bool stopped = matcher_.stopped();
    if (!error_.ok()) r = error_;
    if (!r.ok() && !(stopped && r.status().code() == StatusCode::kAborted)) {
      if (!writer_) {
        respond_(OpenAiErrorResponse(r.status()));
        return;
      }
      writer_->Write(SseEvent(OpenAiErrorJson(r.status())));
      writer_->Close();
      return;
    }
    std::string finish = stopped ? "stop" : r->finish_reason;
    std::string tail;
    if (!stopped) {
      auto rest = decoder_.Flush();
      if (rest.ok()) tail = matcher_.Push(*rest);
      if (matcher_.stopped()) finish = "stop";
      else tail += matcher_.Flush();
    }
    text_ += tail;
    const OpenAiUsage usage{prompt_tokens_, static_cast<int64_t>(tokens_.size())};
    if (!stream_) {
      respond_(HttpResponse::Json(
          200, boost::json::serialize(OpenAiReplyJson(head_, text_, finish, usage, return_ids_ ? &tokens_ : nullptr))));
      return;
    }
    WriteChunk(tail, finish, &usage);
    writer_->Write(SseEvent("[DONE]"));
    writer_->Close();
  }

 private:
  bool WriteChunk(const std::string& text, const std::string& finish, const OpenAiUsage* usage) {
    if (!writer_) writer_ = respond_.StartStream();
    const bool role = head_.kind == OpenAiKind::kChat && !role_sent_;
    role_sent_ = true;
    const bool ok = writer_->Write(
        SseEvent(OpenAiChunkJson(head_, text, finish, usage, return_ids_ ? &pending_ids_ : nullptr, role)));
    pending_ids_.clear();
    return ok;
  }

  Responder respond_;
  OpenAiReplyHead head_;
  std::shared_ptr<const Tokenizer> tok_;
  StreamDecoder decoder_;
  StopMatcher matcher_;
  int64_t prompt_tokens_;
  bool stream_;
  bool return_ids_;
  bool role_sent_ = false;
  Status error_;
  std::string text_;
  std::vector<int64_t> tokens_;
  std::vector<int64_t> pending_ids_;  // ids not yet reported in a chunk
  std::shared_ptr<StreamWriter> writer_;
};

std::string HexId(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

int64_t RestApi::UnixSeconds(TimePoint now) const {
  return (options_.origin_unix_ms + static_cast<int64_t>(ToMillis(now - origin_))) / 1000;
}

HttpResponse RestApi::OpenAiGenerate(const HttpRequest& req, OpenAiKind kind, const Responder& respond, bool* async) {
  if (req.body.empty()) return OpenAiErrorResponse(InvalidArgument("body: empty; a JSON object is required"));
  // Before parsing, so the message says what is wrong (the JSON parser only says "syntax error").
  if (Status s = ValidateUtf8(req.body, "body"); !s.ok()) return OpenAiErrorResponse(s);
  auto v = ParseJson(req.body);
  if (!v.ok()) return OpenAiErrorResponse(Status(v.status().code(), "body: " + v.status().message()));
  auto body = OpenAiRequestFromJson(*v, kind);
  if (!body.ok()) return OpenAiErrorResponse(body.status());
  OpenAiRequest& r = *body;
  auto dep = controller_->deployments().find(r.model);
  if (dep == controller_->deployments().end())
    return OpenAiErrorResponse(NotFound("model: no deployment named " + QuoteForError(r.model) +
                                        " (GET /v1/models lists them)"));
  const std::string& model_name = dep->second.spec.model;
  const CatalogModel* model = controller_->catalog().Find(model_name);
  if (!model || !model->manifest.generation)
    return OpenAiErrorResponse(FailedPrecondition("model: deployment " + r.model + " serves model " + model_name +
                                                  ", which cannot generate (its manifest has no generation section)"),
                               400);
  Result<std::shared_ptr<const Tokenizer>> tok =
      tokenizers_ ? tokenizers_(*model) : Result<std::shared_ptr<const Tokenizer>>(FailedPrecondition("no tokenizers"));
  if (!tok.ok())
    return OpenAiErrorResponse(FailedPrecondition("model: deployment " + r.model + " serves model " + model_name +
                                                  ", which has no usable tokenizer (" + tok.status().message() + ")"),
                               400);
  const GenerationSpec& gen = *model->manifest.generation;
  const Tokenizer& t = **tok;

  GenerationRequest g;
  if (kind == OpenAiKind::kCompletion && r.prompt_is_tokens) {
    g.prompt = std::move(r.prompt_tokens);
    if (g.prompt.empty()) return OpenAiErrorResponse(InvalidArgument("prompt: must not be empty"));
    for (size_t i = 0; i < g.prompt.size(); ++i)
      if (g.prompt[i] >= gen.vocab)
        return OpenAiErrorResponse(InvalidArgument("prompt[" + std::to_string(i) + "]: token " + std::to_string(g.prompt[i]) +
                                                   " is outside the vocabulary [0, " + std::to_string(gen.vocab) + ")"));
  } else {
    if (kind == OpenAiKind::kChat) {
      // The package's own template when it carries one (chat_template.h), else the default.
      const ChatTemplateSpec* tmpl = model->manifest.chat_template ? &*model->manifest.chat_template : nullptr;
      auto p = EncodeChat(t, tmpl, r.messages, r.add_bos);
      if (!p.ok()) return OpenAiErrorResponse(p.status());
      g.prompt = std::move(p->ids);
    } else {
      if (r.prompt_text.empty()) return OpenAiErrorResponse(InvalidArgument("prompt: must not be empty"));
      auto ids = EncodePrompt(t, r.prompt_text, r.add_bos);
      if (!ids.ok()) return OpenAiErrorResponse(Status(ids.status().code(), "prompt: " + ids.status().message()));
      g.prompt = std::move(*ids);
    }
    if (g.prompt.empty()) return OpenAiErrorResponse(InvalidArgument("prompt: encodes to no tokens"));
  }
  const auto n = static_cast<int64_t>(g.prompt.size());
  const std::string what = kind == OpenAiKind::kChat ? "messages" : "prompt";
  if (n >= gen.max_context)
    return OpenAiErrorResponse(InvalidArgument(what + ": " + std::to_string(n) + " tokens, the model's context is " +
                                               std::to_string(gen.max_context) +
                                               " tokens (prompt and completion together)"));
  if (r.max_tokens) {
    if (n + *r.max_tokens > gen.max_context)
      return OpenAiErrorResponse(InvalidArgument("max_tokens: the prompt (" + std::to_string(n) + " tokens) + max_tokens (" +
                                                 std::to_string(*r.max_tokens) + ") exceed the model's context of " +
                                                 std::to_string(gen.max_context) + " tokens"));
    g.max_new_tokens = *r.max_tokens;
  } else {
    // OpenAI's defaults: 16 for completions, the rest of the context for chat.
    g.max_new_tokens = kind == OpenAiKind::kChat ? gen.max_context - n : std::min<int64_t>(16, gen.max_context - n);
  }
  g.sampling.temperature = r.temperature;
  g.sampling.top_p = r.top_p;
  g.sampling.top_k = r.top_k;
  g.sampling.seed = r.seed;
  g.stop_tokens = std::move(r.stop_token_ids);
  if (t.eos_id() >= 0 && t.eos_id() < gen.vocab &&
      std::find(g.stop_tokens.begin(), g.stop_tokens.end(), t.eos_id()) == g.stop_tokens.end())
    g.stop_tokens.push_back(t.eos_id());  // EOS ends a session
  if (Status s = g.Validate(gen.vocab, gen.max_context); !s.ok()) return OpenAiErrorResponse(s);
  if (!generate_) return OpenAiErrorResponse(Unavailable("generation gateway not configured"));

  OpenAiReplyHead head;
  head.kind = kind;
  head.id = (kind == OpenAiKind::kChat ? "chatcmpl-" : "cmpl-") + HexId(RandomId());
  head.created = UnixSeconds(clock_->Now());
  head.model = r.model;
  *async = true;
  auto session = std::make_shared<OpenAiSession>(respond, std::move(head), *tok, g.prompt, std::move(r.stop), r.stream,
                                                 r.return_token_ids);
  generate_(
      r.model, std::move(g), [session](int64_t i, int64_t id) { return session->OnToken(i, id); },
      [session](Result<GenerationSummary> res) { session->Done(std::move(res)); });
  return {};
}

}  // namespace edgesplit::orch
