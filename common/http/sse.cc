#include "common/http/sse.h"

namespace edgesplit {

std::string SseEvent(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  size_t start = 0;
  for (;;) {
    size_t nl = payload.find('\n', start);
    out += "data: ";
    out.append(payload.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
    out += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  out += '\n';
  return out;
}

bool SseParser::Feed(std::string_view bytes, const std::function<bool(const std::string& data)>& on_event) {
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      if (line_.size() + data_.size() > max_event_bytes_) return false;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {  // blank line: dispatch
      if (has_data_) {
        std::string data = std::move(data_);
        data_.clear();
        has_data_ = false;
        if (!on_event(data)) return false;
      }
    } else if (line_.rfind("data:", 0) == 0) {
      std::string_view v(line_);
      v.remove_prefix(5);
      if (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (has_data_) data_ += '\n';
      data_.append(v);
      has_data_ = true;
    }
    line_.clear();
  }
  return true;
}

}  // namespace edgesplit
