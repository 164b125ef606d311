// JSON forms of the OpenAI-compatible endpoints (POST /v1/completions, /v1/chat/completions):
// the strict request decoder, the reply and stream-chunk objects, and OpenAI-style error
// objects. Pure; the handlers are in rest_openai.cc, the wire format in docs/orchestrator.md.
//
// Decoding refuses by name every field it does not implement: unknown fields, and known OpenAI
// fields set to anything but their neutral value (n other than 1, logprobs, echo, penalties,
// logit_bias, tools, ...). Accepted extensions (as vLLM spells them): top_k, stop_token_ids,
// return_token_ids, add_bos.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/base/status.h"
#include "common/http/http_server.h"
#include "common/model/chat_template.h"

namespace edgesplit::orch {

enum class OpenAiKind { kCompletion, kChat };

inline constexpr size_t kMaxStopStrings = 4;  // as OpenAI

struct OpenAiRequest {
  OpenAiKind kind = OpenAiKind::kCompletion;
  std::string model;  // a deployment name
  // Completions: the prompt as text, or as token ids (prompt_is_tokens).
  std::string prompt_text;
  std::vector<int64_t> prompt_tokens;
  bool prompt_is_tokens = false;
  std::vector<ChatMessage> messages;  // chat
  std::optional<int64_t> max_tokens;  // absent: 16 (completions) / the rest of the context (chat)
  double temperature = 1.0;           // OpenAI's default
  double top_p = 1.0;
  int64_t top_k = 0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  std::vector<int64_t> stop_token_ids;
  bool stream = false;
  bool return_token_ids = false;  // extension: token ids in every choice
  bool add_bos = true;            // extension: false sends the prompt without BOS
};

// Form only (types, ranges independent of the model, UTF-8 of every string is the body's check).
// Messages name the field first ("max_tokens: ..."), which the error object reports as `param`.
Result<OpenAiRequest> OpenAiRequestFromJson(const boost::json::value& v, OpenAiKind kind);

// {"error": {"message", "type", "param", "code"}}: OpenAI's error object; `code` is our status
// code name (as every error of this API), `param` the field the message starts with (or null).
HttpResponse OpenAiErrorResponse(const Status& s, int http_status = 0);  // 0: by the code
std::string OpenAiErrorJson(const Status& s);

struct OpenAiUsage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

// Shared fields of every reply object and chunk of one request.
struct OpenAiReplyHead {
  OpenAiKind kind = OpenAiKind::kCompletion;
  std::string id;      // "cmpl-..." | "chatcmpl-..."
  int64_t created = 0; // unix seconds
  std::string model;
};

// The whole reply (stream false): a text_completion or chat.completion object.
boost::json::object OpenAiReplyJson(const OpenAiReplyHead& h, const std::string& text, const std::string& finish_reason,
                                    const OpenAiUsage& usage, const std::vector<int64_t>* token_ids);
// One stream chunk: text_completion / chat.completion.chunk. `finish_reason` empty: null;
// `usage` given: the last chunk. `role` (chat): the first chunk's delta carries the role.
std::string OpenAiChunkJson(const OpenAiReplyHead& h, const std::string& text, const std::string& finish_reason,
                            const OpenAiUsage* usage, const std::vector<int64_t>* token_ids, bool role);

// Deployments in OpenAI's model-object shape, for GET /v1/models's `data`.
boost::json::object OpenAiModelJson(const std::string& deployment, int64_t created);

}  // namespace edgesplit::orch
