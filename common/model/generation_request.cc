#include "common/model/generation_request.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace edgesplit {

Status GenerationRequest::Validate(int64_t vocab, int64_t max_context) const {
  if (prompt.empty()) return InvalidArgument("prompt_tokens: must not be empty");
  if (static_cast<int64_t>(prompt.size()) > max_context)
    return InvalidArgument("prompt_tokens: " + std::to_string(prompt.size()) + " tokens exceed the model's context of " +
                           std::to_string(max_context));
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= vocab)
      return InvalidArgument("prompt_tokens[" + std::to_string(i) + "]: token " + std::to_string(prompt[i]) +
                             " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  if (max_new_tokens < 1) return InvalidArgument("max_new_tokens: must be at least 1");
  if (max_new_tokens > max_context || ContextTokens() > max_context)
    return InvalidArgument("max_new_tokens: prompt (" + std::to_string(prompt.size()) + ") + max_new_tokens (" +
                           std::to_string(max_new_tokens) + ") exceeds the model's context of " +
                           std::to_string(max_context));
  ES_RETURN_IF_ERROR(sampling.Validate());
  if (stop_tokens.size() > kMaxStopTokens)
    return InvalidArgument("stop_tokens: at most " + std::to_string(kMaxStopTokens) + " tokens");
  for (size_t i = 0; i < stop_tokens.size(); ++i)
    if (stop_tokens[i] < 0 || stop_tokens[i] >= vocab)
      return InvalidArgument("stop_tokens[" + std::to_string(i) + "]: token " + std::to_string(stop_tokens[i]) +
                             " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  return Status::Ok();
}

const char* FinishReasonName(FinishReason r) { return r == FinishReason::kStop ? "stop" : "length"; }

Result<std::vector<int64_t>> ParseTokenList(const std::string& text, const std::string& what) {
  std::vector<int64_t> out;
  if (text.empty()) return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno == ERANGE) return InvalidArgument(what + ": '" + item + "' is not a token id");
    out.push_back(v);
    if (out.size() > (size_t{1} << 20)) return InvalidArgument(what + ": too many tokens");
  }
  return out;
}

}  // namespace edgesplit
