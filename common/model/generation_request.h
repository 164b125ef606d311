// A generation request as every interface takes it (CLI, REST, data port): prompt token ids,
// how many tokens to generate, sampling and stop tokens. Pure data and validation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/model/sampler.h"

namespace edgesplit {

inline constexpr size_t kMaxStopTokens = 64;

struct GenerationRequest {
  std::vector<int64_t> prompt;
  int64_t max_new_tokens = 16;
  SamplingParams sampling;
  std::vector<int64_t> stop_tokens;  // a sampled stop token ends the stream (and is not emitted)

  // Against the model: ids in [0, vocab), a non-empty prompt, max_new_tokens >= 1 and
  // prompt + max_new_tokens <= max_context, at most kMaxStopTokens stop tokens. The message
  // names the field (invalid_argument).
  Status Validate(int64_t vocab, int64_t max_context) const;
  // Tokens of KV state a stage reserves for this session.
  int64_t ContextTokens() const { return static_cast<int64_t>(prompt.size()) + max_new_tokens; }
};

// Why a stream ended.
enum class FinishReason { kLength, kStop };
const char* FinishReasonName(FinishReason r);  // "length" | "stop"

// Parses "5,17,42" (CLI flags). The message names `what`.
Result<std::vector<int64_t>> ParseTokenList(const std::string& text, const std::string& what);

}  // namespace edgesplit
