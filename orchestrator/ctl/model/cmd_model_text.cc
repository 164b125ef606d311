// `edgesplitctl model tokenize|detokenize` (see model_text.h); dispatched by cmd_model.cc.
#include <algorithm>
#include <cstdio>

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

}  // namespace

Status PrepareTextPrompt(const Tokenizer& tok, const std::string& text, bool no_bos, GenerationRequest* req) {
  ES_RETURN_IF_ERROR(ValidateUtf8(text, "prompt"));
  if (text.empty()) return InvalidArgument("prompt: must not be empty");
  ES_ASSIGN_OR_RETURN(req->prompt, EncodePrompt(tok, text, !no_bos));
  if (req->prompt.empty()) return InvalidArgument("prompt: encodes to no tokens");
  if (tok.eos_id() >= 0 && std::find(req->stop_tokens.begin(), req->stop_tokens.end(), tok.eos_id()) == req->stop_tokens.end())
    req->stop_tokens.push_back(tok.eos_id());
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

}  // namespace edgesplit::ctl
