// A small HTTP/1.1 server on Boost.Beast for /metrics, health probes and the REST API.
// The handler is pure over HttpRequest/HttpResponse and may answer asynchronously (the
// inference gateway answers when the pipeline does). Every read has a deadline, every body a
// size limit, and the number of connections is bounded.
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

struct HttpServerOptions {
  std::string bind_address = "127.0.0.1";  // loopback unless configured otherwise
  uint16_t port = 0;                       // 0 = pick a free port (see HttpServer::port())
  size_t max_body_bytes = size_t{64} << 20;
  size_t max_header_bytes = 16 << 10;
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};
  size_t max_connections = 512;
  StreamLimits stream_limits;  // per streamed response: chunks queued for a slow client
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
