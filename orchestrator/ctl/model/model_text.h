// Text subcommands of `edgesplitctl model` (cmd_model_text.cc), for packages with a tokenizer:
//   tokenize --model DIR --text "..." [--no-bos] [--json]   ids, comma-separated (BOS first by default)
//   detokenize --model DIR --tokens 1,2,3 [--json]           the text
//   chat --model DIR --messages JSON [--json]                the prompt ids chat messages render to
//                                                            (the package's chat template, else the default)
// and the helpers `model generate --prompt` uses. Exit codes: 0 ok, 1 error, 2 usage.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/model/generation_request.h"
#include "common/model/manifest.h"
#include "common/model/tokenizer.h"

namespace edgesplit::ctl {

int ModelTokenize(const std::vector<std::string>& args);
int ModelDetokenize(const std::vector<std::string>& args);
int ModelChat(const std::vector<std::string>& args);

// The prompt of `model generate --prompt TEXT`: validated UTF-8, non-empty, encoded with BOS
// (unless `no_bos`); the tokenizer's EOS becomes a stop token. Errors are invalid_argument.
Status PrepareTextPrompt(const Tokenizer& tok, const std::string& text, bool no_bos, GenerationRequest* req);
// The prompt of `model generate --messages JSON` (`[{"role": "user", "content": "..."}]`, as
// OpenAI's chat messages): rendered with the package's chat template (else the default one,
// BOS first unless `no_bos`), as POST /v1/chat/completions renders it; EOS becomes a stop token.
Status PrepareChatPrompt(const Tokenizer& tok, const Manifest& m, const std::string& messages_json, bool no_bos,
                         GenerationRequest* req);

}  // namespace edgesplit::ctl
