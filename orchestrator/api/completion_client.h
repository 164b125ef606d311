// Client side of POST /v1/completions (edgesplitctl generate --prompt): sends the request with
// "stream": true, relays each chunk's text as it arrives, returns what the last chunk reported.
// Thread-compatible (one call at a time per RestClient).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit::orch {

struct CompletionReply {
  std::string text;  // every chunk's text, concatenated
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::vector<int64_t> token_ids;  // when the request asked for return_token_ids
  std::string json;                // the last chunk as the server sent it
};

// `body_json` must ask for "stream": true. `on_text` runs for each chunk's text (delta, chunk
// JSON). An HTTP error or an error event comes back as a Status with the server's code and message.
Result<CompletionReply> PostCompletionStream(
    RestClient& client, const std::string& body_json,
    const std::function<void(const std::string& text, const std::string& chunk)>& on_text);

}  // namespace edgesplit::orch
