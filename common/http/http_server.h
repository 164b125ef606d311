// A small HTTP/1.1 server on Boost.Beast for /metrics, health probes and the REST API.
// The handler is pure over HttpRequest/HttpResponse and may answer asynchronously (the
// inference gateway answers when the pipeline does). Every read has a deadline (the header its
// own, short one: a slow client cannot hold a slot for long), every body a size limit, and the
// connections are bounded in total and per peer address. The header is read first: a request
// whose Content-Length exceeds the limit, or that the header check refuses (e.g. a wrong
// bearer token), is answered without its body being read, and the connection is closed.
// A handler may instead start a stream (Server-Sent Events over chunked encoding): it gets a
// StreamWriter whose chunks the connection writes as they come, each write with the write
// deadline; the connection closes after the stream.
// Thread-safety: Start/Stop/port from the io_context's thread; a Responder may be invoked from
// any thread, exactly once (dropping it unanswered sends a 500).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "common/base/json_escape.h"  // JsonEscape, used by every handler
#include "common/base/status.h"
#include "common/http/stream_writer.h"

namespace edgesplit {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string target;                          // raw target, e.g. "/v1/nodes?x=1"
  std::string path;                            // target without the query, percent-decoded
  std::map<std::string, std::string> query;    // decoded query parameters
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string remote;                          // peer "ip:port"

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  // {"error": {"code": code, "message": message}}
  static HttpResponse Error(int status, const std::string& code, const std::string& message);
};

// Status line and headers of a streamed response.
struct StreamHead {
  int status = 200;
  std::string content_type = "text/event-stream";
  std::vector<std::pair<std::string, std::string>> headers;  // Cache-Control: no-cache is always sent
};

using StreamStarter = std::function<std::shared_ptr<StreamWriter>(StreamHead)>;

// Answers one request: call operator() or StartStream exactly once, from any thread.
class Responder {
 public:
  // `start_stream` empty: StartStream answers 500 and returns a writer that refuses every Write.
  explicit Responder(std::function<void(HttpResponse)> send, StreamStarter start_stream = {});
  void operator()(HttpResponse response) const;
  // Starts a streamed answer; never null. After an answer was sent, the writer refuses writes.
  std::shared_ptr<StreamWriter> StartStream(StreamHead head = {}) const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using HttpHandler = std::function<void(HttpRequest request, Responder respond)>;

// Looks at a request before its body is read (`head.body` is empty). A response refuses the
// request: it is sent as is and the connection closes with the body unread. Called on any
// thread: it must only read immutable state.
using HttpHeaderCheck = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;

// Refusals counted by the daemon's metrics. Called on any thread; reasons are bounded labels.
struct HttpServerCounters {
  std::function<void(const char* reason)> connection_refused;  // max_connections | max_per_peer
  std::function<void(const char* reason)> accept_error;        // fd_exhausted | other
  // header_timeout | header_too_large | body_too_large | unauthenticated | refused_by_check
  std::function<void(const char* reason)> request_refused;
};

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";  // loopback unless configured otherwise
  uint16_t port = 0;                       // 0 = pick a free port (see HttpServer::port())
  size_t max_body_bytes = size_t{64} << 20;
  size_t max_header_bytes = 16 << 10;
  // From accept (or the end of the previous response) until the whole header is in; also how
  // long a keep-alive connection may idle.
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds read_timeout{30000};  // the body
  std::chrono::milliseconds write_timeout{30000};
  size_t max_connections = 512;
  size_t max_connections_per_peer = 64;  // per peer IP address
  StreamLimits stream_limits;  // per streamed response: chunks queued for a slow client
  HttpHeaderCheck check_headers;  // optional
  HttpServerCounters counters;    // optional
  Status Validate() const;
};

class HttpServer {
 public:
  // Binds and starts accepting on `io`. Errors: invalid_argument (options), unavailable (bind).
  static Result<std::unique_ptr<HttpServer>> Start(boost::asio::io_context& io, const HttpServerOptions& options,
                                                   HttpHandler handler);
  ~HttpServer();
  uint16_t port() const;
  // Stops accepting; connections finish their current request.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Percent-decoding of a URL component ('+' is a space in queries); false on a bad escape.
bool UrlDecode(const std::string& in, std::string* out, bool plus_is_space);

}  // namespace edgesplit
