// The request, response and Responder types of http_server.h, apart from the server: pure, so
// handlers and their tests (and the fuzz build) need not compile Beast's server code.
#include <atomic>

#include "common/http/http_server.h"

namespace edgesplit {

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

HttpResponse HttpResponse::Error(int status, const std::string& code, const std::string& message) {
  return Json(status, "{\"error\": {\"code\": \"" + JsonEscape(code) + "\", \"message\": \"" + JsonEscape(message) + "\"}}");
}

bool UrlDecode(const std::string& in, std::string* out, bool plus_is_space) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      if (i + 2 >= in.size()) return false;
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      *out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      *out += ' ';
    } else {
      *out += c;
    }
  }
  return true;
}

// ---- Responder ---------------------------------------------------------------------------

struct Responder::State {
  std::function<void(HttpResponse)> send;
  StreamStarter start_stream;
  std::atomic<bool> done{false};
  ~State() {
    if (!done.exchange(true) && send) send(HttpResponse::Error(500, "internal", "request dropped by handler"));
  }
};

Responder::Responder(std::function<void(HttpResponse)> send, StreamStarter start_stream)
    : state_(std::make_shared<State>()) {
  state_->send = std::move(send);
  state_->start_stream = std::move(start_stream);
}

void Responder::operator()(HttpResponse response) const {
  if (!state_ || state_->done.exchange(true)) return;  // answering twice is ignored
  state_->send(std::move(response));
}

std::shared_ptr<StreamWriter> Responder::StartStream(StreamHead head) const {
  auto refused = [] {
    auto w = std::make_shared<StreamWriter>();
    w->MarkGone();
    return w;
  };
  if (!state_ || state_->done.exchange(true)) return refused();
  if (!state_->start_stream) {
    state_->send(HttpResponse::Error(500, "internal", "streamed responses are not supported here"));
    return refused();
  }
  return state_->start_stream(std::move(head));
}

}  // namespace edgesplit
