// `edgesplitctl model tokenize|detokenize` (see model_text.h); dispatched by cmd_model.cc.
#include <algorithm>
#include <cstdio>

#include <boost/json.hpp>

#include "common/base/flags.h"
#include "common/base/json_escape.h"
#include "common/model/sentencepiece_tokenizer.h"
#include "orchestrator/ctl/model/model_text.h"

namespace edgesplit::ctl {
namespace {

int Fail(const Status& s, int code = 1) {
  std::fprintf(stderr, "edgesplitctl: error: %s\n", s.ToString().c_str());
  return code;
}

Result<std::unique_ptr<Tokenizer>> PackageTokenizer(const std::string& dir) {
  ES_ASSIGN_OR_RETURN(Manifest m, LoadManifest(dir));
  return LoadPackageTokenizer(dir, m);
}

std::string Join(const std::vector<int64_t>& ids, const char* sep) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? sep : "") + std::to_string(ids[i]);
  return out;
}

void AddEosStop(const Tokenizer& tok, GenerationRequest* req) {
  if (tok.eos_id() >= 0 && std::find(req->stop_tokens.begin(), req->stop_tokens.end(), tok.eos_id()) == req->stop_tokens.end())
    req->stop_tokens.push_back(tok.eos_id());
}

// --messages: a JSON array of {"role", "content"} with string content (OpenAI's chat messages;
// `developer` is read as `system`). Size-limited before parsing.
Result<std::vector<ChatMessage>> ParseMessages(const std::string& text) {
  constexpr size_t kMaxBytes = 1 << 20;
  if (text.size() > kMaxBytes) return InvalidArgument("--messages: at most 1 MiB of JSON");
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec) return InvalidArgument("--messages: not JSON (" + ec.message() + ")");
  if (!v.is_array() || v.as_array().empty())
    return InvalidArgument("--messages: expected a non-empty array of {\"role\", \"content\"}");
  if (v.as_array().size() > kMaxChatMessages)
    return InvalidArgument("--messages: at most " + std::to_string(kMaxChatMessages) + " messages");
  std::vector<ChatMessage> out;
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    const std::string w = "--messages[" + std::to_string(i) + "]";
    const auto* o = v.as_array()[i].if_object();
    const auto* role = o ? o->if_contains("role") : nullptr;
    const auto* content = o ? o->if_contains("content") : nullptr;
    if (!role || !role->is_string() || !content || !content->is_string())
      return InvalidArgument(w + ": expected {\"role\": string, \"content\": string}");
    ChatMessage m{std::string(role->as_string()), std::string(content->as_string())};
    if (m.role == "developer") m.role = "system";
    if (!IsChatRole(m.role)) return InvalidArgument(w + ".role: '" + m.role + "' is not system, user or assistant");
    ES_RETURN_IF_ERROR(ValidateUtf8(m.content, w + ".content"));
    out.push_back(std::move(m));
  }
  return out;
}

Result<ChatPrompt> RenderMessages(const Tokenizer& tok, const Manifest& m, const std::string& json, bool no_bos) {
  ES_ASSIGN_OR_RETURN(std::vector<ChatMessage> msgs, ParseMessages(json));
  return EncodeChat(tok, m.chat_template ? &*m.chat_template : nullptr, msgs, !no_bos);
}

}  // namespace

Status PrepareChatPrompt(const Tokenizer& tok, const Manifest& m, const std::string& messages_json, bool no_bos,
                         GenerationRequest* req) {
  ES_ASSIGN_OR_RETURN(ChatPrompt p, RenderMessages(tok, m, messages_json, no_bos));
  req->prompt = std::move(p.ids);
  if (req->prompt.empty()) return InvalidArgument("--messages: encode to no tokens");
  AddEosStop(tok, req);
  return Status::Ok();
}

Status PrepareTextPrompt(const Tokenizer& tok, const std::string& text, bool no_bos, GenerationRequest* req) {
  ES_RETURN_IF_ERROR(ValidateUtf8(text, "prompt"));
  if (text.empty()) return InvalidArgument("prompt: must not be empty");
  ES_ASSIGN_OR_RETURN(req->prompt, EncodePrompt(tok, text, !no_bos));
  if (req->prompt.empty()) return InvalidArgument("prompt: encodes to no tokens");
  AddEosStop(tok, req);
  return Status::Ok();
}

int ModelTokenize(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"model", "text"}, {"no-bos", "json"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  if (!dir.ok()) return Fail(dir.status(), 2);
  if (!f->Has("text")) return Fail(InvalidArgument("missing required flag --text"), 2);
  const std::string text = f->Get("text");
  if (Status s = ValidateUtf8(text, "--text"); !s.ok()) return Fail(s, 2);
  auto tok = PackageTokenizer(*dir);
  if (!tok.ok()) return Fail(tok.status());
  auto ids = EncodePrompt(**tok, text, !f->GetBool("no-bos"));
  if (!ids.ok()) return Fail(ids.status());
  if (f->GetBool("json")) {
    std::printf("{\"tokens\": [%s], \"count\": %zu}\n", Join(*ids, ", ").c_str(), ids->size());
  } else {
    std::printf("%s\n", Join(*ids, ",").c_str());
  }
  return 0;
}

int ModelDetokenize(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"model", "tokens"}, {"json"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  if (!dir.ok()) return Fail(dir.status(), 2);
  if (!f->Has("tokens")) return Fail(InvalidArgument("missing required flag --tokens (e.g. 1,17,42)"), 2);
  auto ids = ParseTokenList(f->Get("tokens"), "--tokens");
  if (!ids.ok()) return Fail(ids.status(), 2);
  auto tok = PackageTokenizer(*dir);
  if (!tok.ok()) return Fail(tok.status());
  auto text = (*tok)->Decode(*ids);
  if (!text.ok()) return Fail(text.status(), 2);
  if (f->GetBool("json")) {
    std::printf("{\"text\": %s}\n", JsonQuote(*text).c_str());
  } else {
    std::printf("%s\n", text->c_str());
  }
  return 0;
}

int ModelChat(const std::vector<std::string>& args) {
  auto f = Flags::Parse(args, {"model", "messages"}, {"no-bos", "json"});
  if (!f.ok()) return Fail(f.status(), 2);
  auto dir = f->Required("model");
  if (!dir.ok()) return Fail(dir.status(), 2);
  if (!f->Has("messages"))
    return Fail(InvalidArgument("missing required flag --messages (e.g. '[{\"role\": \"user\", \"content\": \"Hi\"}]')"), 2);
  auto m = LoadManifest(*dir);
  if (!m.ok()) return Fail(m.status());
  auto tok = LoadPackageTokenizer(*dir, *m);
  if (!tok.ok()) return Fail(tok.status());
  auto p = RenderMessages(**tok, *m, f->Get("messages"), f->GetBool("no-bos"));
  if (!p.ok()) return Fail(p.status(), 2);
  if (f->GetBool("json")) {
    std::printf("{\"text\": %s, \"tokens\": [%s], \"count\": %zu, \"template\": \"%s\"}\n", JsonQuote(p->text).c_str(),
                Join(p->ids, ", ").c_str(), p->ids.size(), m->chat_template ? "package" : "default");
  } else {
    std::printf("%s\n", Join(p->ids, ",").c_str());
  }
  return 0;
}

}  // namespace edgesplit::ctl
