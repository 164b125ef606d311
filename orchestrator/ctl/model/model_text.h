// Text subcommands of `edgesplitctl model` (cmd_model_text.cc), for packages with a tokenizer:
//   tokenize --model DIR --text "..." [--no-bos] [--json]   ids, comma-separated (BOS first by default)
//   detokenize --model DIR --tokens 1,2,3 [--json]           the text
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

// The prompt of `model generate --prompt TEXT`: validated UTF-8, non-empty, encoded with BOS
// (unless `no_bos`); the tokenizer's EOS becomes a stop token. Errors are invalid_argument.
Status PrepareTextPrompt(const Tokenizer& tok, const std::string& text, bool no_bos, GenerationRequest* req);

}  // namespace edgesplit::ctl
