// Server-Sent Events framing (text/event-stream): formatting one `data:` event and an
// incremental parser for clients. Only `data:` fields matter to us; comments, `event:`, `id:`
// and `retry:` lines are skipped. Pure.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace edgesplit {

// "data: <payload>\n\n"; a multi-line payload becomes one data line per line.
std::string SseEvent(std::string_view payload);

// Feed bytes as they arrive; each complete event's data (lines joined with '\n') goes to the
// callback. Thread-compatible.
class SseParser {
 public:
  explicit SseParser(size_t max_event_bytes = size_t{1} << 20) : max_event_bytes_(max_event_bytes) {}
  // False when an event exceeds max_event_bytes (the stream is then unusable) or the callback
  // returned false.
  bool Feed(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event);

 private:
  size_t max_event_bytes_;
  std::string line_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace edgesplit
