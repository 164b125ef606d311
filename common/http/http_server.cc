#include "common/http/http_server.h"

#include <array>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <limits>
#include <mutex>
#include <optional>

#include "common/base/log.h"
#include "common/net/accept_gate.h"

namespace edgesplit {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using asio::use_awaitable;
constexpr auto kNoThrow = asio::as_tuple(use_awaitable);

// ---- Server ------------------------------------------------------------------------------

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  asio::io_context& io;
  HttpServerOptions options;
  HttpHandler handler;
  tcp::acceptor acceptor;
  net::AcceptGate gate;
  uint16_t bound_port = 0;

  Impl(asio::io_context& io_, HttpServerOptions o, HttpHandler h)
      : io(io_), options(std::move(o)), handler(std::move(h)), acceptor(io_), gate(GateOptions(options)) {}

  static net::AcceptGateOptions GateOptions(const HttpServerOptions& o) {
    net::AcceptGateOptions g;
    g.port_name = "http";
    g.limits = {o.max_connections, o.max_connections_per_peer};
    g.on_refused = o.counters.connection_refused;
    g.on_accept_error = o.counters.accept_error;
    return g;
  }

  void Count(const char* reason) const {
    if (options.counters.request_refused) options.counters.request_refused(reason);
  }

  asio::awaitable<void> AcceptLoop() {
    auto self = shared_from_this();
    while (auto accepted = co_await gate.Next(acceptor)) {
      // A strand per connection: a streamed response's writer wakes it from other threads.
      asio::co_spawn(asio::make_strand(io), Session(std::move(*accepted)), asio::detached);
    }
  }

  // The request line and headers (the body is read later, if at all).
  static HttpRequest ConvertHead(const http::request<http::string_body>& req, const std::string& remote) {
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.remote = remote;
    std::string raw_path = r.target, raw_query;
    if (auto q = r.target.find('?'); q != std::string::npos) {
      raw_path = r.target.substr(0, q);
      raw_query = r.target.substr(q + 1);
    }
    if (!UrlDecode(raw_path, &r.path, false)) r.path = raw_path;
    size_t pos = 0;
    while (pos <= raw_query.size() && !raw_query.empty()) {
      size_t amp = raw_query.find('&', pos);
      std::string kv = raw_query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      if (!kv.empty()) {
        std::string k = kv, v;
        if (auto eq = kv.find('='); eq != std::string::npos) {
          k = kv.substr(0, eq);
          v = kv.substr(eq + 1);
        }
        std::string dk, dv;
        if (UrlDecode(k, &dk, true) && UrlDecode(v, &dv, true)) r.query[dk] = dv;
      }
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    return r;
  }

  // What the handler answered: a whole response, or a stream (its writer and head).
  struct Answer {
    std::optional<HttpResponse> response;
    std::shared_ptr<StreamWriter> stream;
    StreamHead head;
    std::shared_ptr<asio::steady_timer> wake;  // cancelled whenever the stream has news
  };

  // Waits for the handler's answer without blocking the io thread.
  asio::awaitable<Answer> Dispatch(HttpRequest req) {
    auto ex = co_await asio::this_coro::executor;
    auto result = std::make_shared<std::optional<Answer>>();
    auto timer = std::make_shared<asio::steady_timer>(ex, asio::steady_timer::time_point::max());
    const StreamLimits limits = options.stream_limits;
    Responder responder(
        [ex, result, timer](HttpResponse r) {
          asio::post(ex, [result, timer, r = std::move(r)]() mutable {
            Answer a;
            a.response = std::move(r);
            *result = std::move(a);
            timer->cancel();
          });
        },
        [ex, result, timer, limits](StreamHead head) {
          auto writer = std::make_shared<StreamWriter>(limits, [ex, timer] { asio::post(ex, [timer] { timer->cancel(); }); });
          asio::post(ex, [result, timer, writer, head = std::move(head)]() mutable {
            Answer a;
            a.stream = writer;
            a.head = std::move(head);
            *result = std::move(a);
            timer->cancel();
          });
          return writer;
        });
    try {
      // Moved in: if the handler drops every copy unanswered, the Responder's destructor answers 500.
      handler(std::move(req), std::move(responder));
    } catch (const std::exception& e) {
      Answer a;
      a.response = HttpResponse::Error(500, "internal", std::string("handler failed: ") + e.what());
      *result = std::move(a);
    }
    while (!result->has_value()) co_await timer->async_wait(kNoThrow);
    (*result)->wake = timer;
    co_return std::move(**result);
  }

  // Reads whatever the client sends during a stream, only to see it go away (EOF or error).
  struct Watch {
    std::array<char, 512> buf;
    bool finished = false;  // the stream ended on our side: a read error now is our own close
    bool done = false;
  };
  template <typename Executor>
  static void WatchClient(tcp::socket& socket, std::shared_ptr<Watch> w, std::shared_ptr<StreamWriter> writer,
                          std::shared_ptr<asio::steady_timer> wake, Executor ex) {
    socket.async_read_some(asio::buffer(w->buf), asio::bind_executor(ex, [&socket, w, writer, wake, ex](
                                                                               boost::system::error_code ec, size_t) {
      if (!ec) {  // pipelined bytes are dropped: the connection closes after the stream
        WatchClient(socket, w, writer, wake, ex);
        return;
      }
      if (!w->finished) writer->MarkGone();
      w->done = true;
      wake->cancel();
    }));
  }

  // Writes a streamed answer: head, then each batch of chunks as the producer queues it, then
  // the last chunk; closes the connection.
  asio::awaitable<void> Stream(beast::tcp_stream& stream, Answer& a, unsigned version) {
    auto ex = co_await asio::this_coro::executor;
    auto writer = a.stream;
    auto wake = a.wake;
    http::response<http::empty_body> head{static_cast<http::status>(a.head.status), version};
    head.set(http::field::server, "edgesplit");
    head.set(http::field::content_type, a.head.content_type);
    head.set(http::field::cache_control, "no-cache");
    for (const auto& [k, v] : a.head.headers) head.set(k, v);
    head.keep_alive(false);
    const bool chunked = version >= 11;  // HTTP/1.0: the body ends when the connection closes
    if (chunked) head.chunked(true);
    http::response_serializer<http::empty_body> sr{head};
    stream.expires_after(options.write_timeout);
    auto [hec, hn] = co_await http::async_write_header(stream, sr, kNoThrow);
    stream.expires_never();
    if (hec) {
      writer->MarkGone();
      co_return;
    }
    auto watch = std::make_shared<Watch>();
    WatchClient(stream.socket(), watch, writer, wake, ex);
    for (;;) {
      auto batch = writer->Take();
      if (batch.gone) break;
      if (!batch.chunks.empty()) {
        std::string data;
        for (const auto& c : batch.chunks) data += c;
        stream.expires_after(options.write_timeout);
        boost::system::error_code wec;
        if (chunked) {
          auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(data)), kNoThrow);
          wec = ec;
        } else {
          auto [ec, n] = co_await asio::async_write(stream, asio::buffer(data), kNoThrow);
          wec = ec;
        }
        stream.expires_never();
        if (wec) {
          writer->MarkGone();
          break;
        }
        continue;  // the producer may have closed meanwhile: Take again
      }
      if (batch.closed) {
        if (chunked) {
          stream.expires_after(options.write_timeout);
          (void)co_await asio::async_write(stream, http::make_chunk_last(), kNoThrow);
          stream.expires_never();
        }
        break;
      }
      co_await wake->async_wait(kNoThrow);
    }
    watch->finished = true;
    boost::system::error_code ignore;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
    stream.socket().close(ignore);  // completes the watch's read
    while (!watch->done) co_await wake->async_wait(kNoThrow);
  }

  // After answering a request whose body was not read: stop sending, then discard what the
  // client still sends of the body (at most `left` bytes, 1 MiB, 1 s; into a fixed buffer) so
  // that closing with unread data does not reset the connection before the client read our
  // answer.
  static asio::awaitable<void> LingeringClose(beast::tcp_stream& stream, uint64_t left) {
    boost::system::error_code ignore;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
    std::array<char, 4096> sink;
    left = std::min<uint64_t>(left, uint64_t{1} << 20);
    stream.expires_after(std::chrono::seconds(1));
    while (left > 0) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kNoThrow);
      if (ec) break;
      left -= std::min<uint64_t>(left, n);
    }
    stream.socket().close(ignore);
  }

  // The answer to a header that arrived but was refused before its body, if any.
  std::optional<HttpResponse> CheckHead(const http::request_parser<http::string_body>& parser,
                                        const HttpRequest& head) const {
    if (auto len = parser.content_length(); len && *len > options.max_body_bytes) {
      Count("body_too_large");
      return HttpResponse::Error(413, "payload_too_large",
                                 "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes");
    }
    if (!options.check_headers) return std::nullopt;
    auto refused = options.check_headers(head);
    if (refused) Count(refused->status == 401 ? "unauthenticated" : refused->status == 413 ? "body_too_large" : "refused_by_check");
    return refused;
  }

  asio::awaitable<void> Session(net::Accepted accepted) {
    auto self = shared_from_this();
    const net::ConnectionLimiter::Slot slot = std::move(accepted.slot);  // held until the session ends
    const std::string remote = std::move(accepted.peer);
    beast::tcp_stream stream(std::move(accepted.socket));
    beast::flat_buffer buffer;
    bool linger = false;  // the last request's body was left unread
    uint64_t unread = 0;  // how much of it is still to come (unknown: as much as we drain)
    for (;;) {
      http::request_parser<http::string_body> parser;
      // The header may announce any length: CheckHead answers 413 for it, knowing how much of
      // the body is still to come. The limit set after the header catches chunked bodies.
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
      stream.expires_after(options.header_timeout);
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, kNoThrow);
      if (ec == beast::error::timeout && parser.got_some()) Count("header_timeout");
      if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
          ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
        break;
      }
      HttpResponse resp;
      bool keep_alive = false;
      unsigned version = 11;
      std::optional<HttpResponse> refused;
      if (!ec) {
        auto& req = parser.get();
        version = req.version();
        HttpRequest head = ConvertHead(req, remote);
        refused = CheckHead(parser, head);
        parser.body_limit(options.max_body_bytes);
        if (!refused && !parser.is_done()) {
          if (beast::iequals(req[http::field::expect], "100-continue")) {
            stream.expires_after(options.write_timeout);
            static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
            (void)co_await asio::async_write(stream, asio::buffer(kContinue, sizeof(kContinue) - 1), kNoThrow);
          }
          stream.expires_after(options.read_timeout);
          auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kNoThrow);
          ec = bec;
          if (ec == beast::error::timeout || ec == asio::error::eof || ec == asio::error::connection_reset ||
              ec == asio::error::operation_aborted || ec == http::error::partial_message) {
            break;
          }
        }
        if (!ec && !refused) {
          keep_alive = req.keep_alive();
          head.body = std::move(req.body());
          stream.expires_never();
          Answer answer = co_await Dispatch(std::move(head));
          if (answer.stream) {
            co_await Stream(stream, answer, version);
            co_return;
          }
          resp = std::move(*answer.response);
        }
      }
      if (refused) {
        resp = std::move(*refused);
      } else if (ec == http::error::body_limit) {
        Count("body_too_large");
        resp = HttpResponse::Error(413, "payload_too_large",
                                   "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes");
      } else if (ec == http::error::header_limit) {
        Count("header_too_large");
        resp = HttpResponse::Error(431, "header_too_large", "request headers too large");
      } else if (ec) {
        resp = HttpResponse::Error(400, "bad_request", "malformed HTTP request: " + ec.message());
      }
      linger = !parser.is_done();
      if (linger) {
        const auto len = parser.content_length_remaining();
        unread = len ? (*len > buffer.size() ? *len - buffer.size() : 0) : UINT64_MAX;
      }
      http::response<http::string_body> out{static_cast<http::status>(resp.status), version};
      out.set(http::field::server, "edgesplit");
      out.set(http::field::content_type, resp.content_type);
      for (const auto& [k, v] : resp.headers) out.set(k, v);
      out.keep_alive(keep_alive);
      out.body() = std::move(resp.body);
      out.prepare_payload();
      stream.expires_after(options.write_timeout);
      auto [wec, wn] = co_await http::async_write(stream, out, kNoThrow);
      if (wec) linger = false;
      if (wec || !keep_alive) break;
    }
    if (linger) {
      co_await LingeringClose(stream, unread);
      co_return;
    }
    boost::system::error_code ignore;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
    stream.socket().close(ignore);
  }
};

Status HttpServerOptions::Validate() const {
  std::string errs;
  boost::system::error_code ec;
  asio::ip::make_address(bind_address, ec);
  if (ec) errs += "bind_address '" + bind_address + "' is not an IP address; ";
  if (max_body_bytes == 0) errs += "max_body_bytes must be positive; ";
  if (max_connections == 0) errs += "max_connections must be positive; ";
  if (max_connections_per_peer == 0) errs += "max_connections_per_peer must be positive; ";
  if (header_timeout.count() <= 0) errs += "header_timeout must be positive; ";
  if (read_timeout.count() <= 0) errs += "read_timeout must be positive; ";
  if (write_timeout.count() <= 0) errs += "write_timeout must be positive; ";
  if (stream_limits.max_chunks == 0 || stream_limits.max_bytes == 0) errs += "stream_limits must be positive; ";
  if (!errs.empty()) return InvalidArgument("http server: " + errs.substr(0, errs.size() - 2));
  return Status::Ok();
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(asio::io_context& io, const HttpServerOptions& options,
                                                      HttpHandler handler) {
  ES_RETURN_IF_ERROR(options.Validate());
  auto impl = std::make_shared<Impl>(io, options, std::move(handler));
  boost::system::error_code ec;
  tcp::endpoint ep(asio::ip::make_address(options.bind_address), options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Unavailable("http: cannot listen on " + options.bind_address + ":" + std::to_string(options.port) + ": " +
                       ec.message());
  impl->bound_port = impl->acceptor.local_endpoint().port();
  asio::co_spawn(io, impl->AcceptLoop(), asio::detached);
  return std::unique_ptr<HttpServer>(new HttpServer(impl));
}

uint16_t HttpServer::port() const { return impl_->bound_port; }

void HttpServer::Stop() {
  // Close on the acceptor's executor: the accept loop may be suspended on it.
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    boost::system::error_code ignore;
    impl->acceptor.close(ignore);
  });
}

}  // namespace edgesplit
