// A small blocking HTTP/1.1 client for the orchestrator's REST API (edgesplitctl, tests, demo).
// Address and token come from flags or the environment (EDGESPLIT_ADDR, EDGESPLIT_TOKEN).
// Thread-compatible: one request at a time per client.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/base/status.h"

namespace edgesplit::orch {

struct RestReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class RestClient {
 public:
  RestClient(std::string address, std::string token, std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : address_(std::move(address)), token_(std::move(token)), timeout_(timeout) {}
  // unavailable when the server cannot be reached; any HTTP status is a reply.
  Result<RestReply> Call(const std::string& method, const std::string& target, const std::string& body = "",
                         const std::string& content_type = "application/json");
  // Like Call, for replies that may be Server-Sent Events: when the reply is text/event-stream,
  // `on_event(data)` runs for each event as it arrives (false stops reading) and the reply's
  // body stays empty; any other reply is collected as by Call. The timeout bounds each step
  // (connect, send, the wait for the next bytes), not the whole stream.
  Result<RestReply> CallStream(const std::string& method, const std::string& target, const std::string& body,
                               const std::function<bool(const std::string& data)>& on_event,
                               const std::string& content_type = "application/json");
  const std::string& address() const { return address_; }

 private:
  std::string address_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

// "message" of a JSON error body, else the body itself.
std::string ErrorMessageOf(const RestReply& r);

}  // namespace edgesplit::orch
