// Client side of POST /v1/deployments/{name}/generate (edgesplitctl generate and load): sends
// the request, relays streamed tokens as their events arrive, returns the final object.
// Thread-compatible (one call at a time per RestClient).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "common/base/status.h"
#include "orchestrator/api/rest_client.h"

namespace edgesplit::orch {

struct GenerateReply {
  std::vector<int64_t> tokens;
  std::string finish_reason;
  int64_t prompt_tokens = 0;
  double ttft_ms = 0;
  double ms_per_token = 0;
  int moves = 0;
  double stall_ms_max = 0;
  uint64_t epoch = 0;
  std::string json;  // the final object as the server sent it (for a stream: the done event)
};

// `body_json` is the request object; its "stream" decides the reply's form. `on_token` runs for
// each streamed token event (index, token, the event's JSON). An HTTP error or an error event
// comes back as a Status with the server's code and message.
// The Status an error object of the API ({"code", "message"}) stands for; `fallback` as an
// internal error when it is not one.
Status ErrorFrom(const boost::json::value& err, const std::string& fallback);
// One streamed event's JSON object: an internal error "malformed <what>: <data>" when the data
// is not a JSON object, the server's Status (ErrorFrom) when it is an error event.
Result<boost::json::object> EventObject(const std::string& data, const char* what);

Result<GenerateReply> PostGenerate(RestClient& client, const std::string& deployment, const std::string& body_json,
                                   const std::function<void(int64_t index, int64_t token, const std::string& event)>& on_token);

}  // namespace edgesplit::orch
