// JSON forms of POST /v1/deployments/{name}/generate: the strict request decoder (every key but
// prompt_tokens optional; unknown keys, wrong types, non-integers, non-finite or negative
// numbers are invalid_argument naming the field) and the reply, token and error events. Pure.
#pragma once

#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/base/status.h"
#include "common/model/generation_request.h"

namespace edgesplit::orch {

struct GenerateBody {
  GenerationRequest request;
  bool stream = false;
};

// {"prompt_tokens": [...], "max_new_tokens": 16, "temperature": 0, "top_k": 0, "top_p": 1,
//  "seed": 0, "stop_tokens": [], "stream": false}. Checks form only; ranges that depend on the
// model are GenerationRequest::Validate's.
Result<GenerateBody> GenerateBodyFromJson(const boost::json::value& v);

// What a finished generation reports (the entry's summary plus the tokens streamed).
struct GenerateOutcome {
  std::vector<int64_t> tokens;
  std::string finish_reason;  // "length" | "stop"
  int64_t prompt_tokens = 0;
  double ttft_ms = 0;
  double ms_per_token = 0;
  int moves = 0;
  double stall_ms_max = 0;
  uint64_t epoch = 0;  // the epoch that finished the session
};

// {"tokens", "finish_reason", "prompt_tokens", "ttft_ms", "ms_per_token", "moves", "stall_ms_max", "epoch"}
boost::json::object GenerateOutcomeToJson(const GenerateOutcome& o);
// Stream events (the `data:` payloads): {"index", "token"}; the outcome plus "done": true;
// {"error": {"code", "message"}}.
std::string TokenEventJson(int64_t index, int64_t token);
std::string DoneEventJson(const GenerateOutcome& o);
std::string ErrorEventJson(const Status& s);

}  // namespace edgesplit::orch
