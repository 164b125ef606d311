#include "orchestrator/api/rest_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "common/http/sse.h"

namespace edgesplit::orch {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

Result<RestReply> RestClient::Call(const std::string& method, const std::string& target, const std::string& body,
                                   const std::string& content_type) {
  auto colon = address_.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("address must be host:port, got " + address_);
  std::string host = address_.substr(0, colon), port = address_.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout_);
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "edgesplitctl");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    if (!body.empty() || method == "POST" || method == "PUT") {
      req.set(http::field::content_type, content_type);
      req.body() = body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(size_t{1} << 30);
    http::read(stream, buf, parser);
    auto& res = parser.get();
    RestReply r;
    r.status = res.result_int();
    r.content_type = std::string(res[http::field::content_type]);
    r.body = std::move(res.body());
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return r;
  } catch (const std::exception& e) {
    return Unavailable("cannot reach orchestrator at " + address_ + ": " + e.what());
  }
}

Result<RestReply> RestClient::CallStream(const std::string& method, const std::string& target, const std::string& body,
                                         const std::function<bool(const std::string& data)>& on_event,
                                         const std::string& content_type) {
  auto colon = address_.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("address must be host:port, got " + address_);
  std::string host = address_.substr(0, colon), port = address_.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  const std::string where = "orchestrator at " + address_;
  try {
    // Asynchronous operations run to completion one at a time: Beast's timeouts apply only to them.
    asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    auto run = [&] {
      io.restart();
      io.run();
    };
    asio::ip::tcp::resolver resolver(io);
    auto endpoints = resolver.resolve(host, port);
    stream.expires_after(timeout_);
    stream.async_connect(endpoints, [&](beast::error_code e, const auto&) { ec = e; });
    run();
    if (ec) return Unavailable("cannot reach " + where + ": " + ec.message());
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "edgesplitctl");
    req.set(http::field::accept, "text/event-stream, application/json");
    if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
    req.set(http::field::content_type, content_type);
    req.body() = body;
    req.prepare_payload();
    stream.expires_after(timeout_);
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return Unavailable("cannot send to " + where + ": " + ec.message());
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(size_t{1} << 30);
    stream.expires_after(timeout_);
    http::async_read_header(stream, buf, parser, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return Unavailable("no reply from " + where + ": " + ec.message());
    RestReply r;
    r.status = parser.get().result_int();
    r.content_type = std::string(parser.get()[http::field::content_type]);
    const bool sse = r.content_type.rfind("text/event-stream", 0) == 0;
    SseParser events;
    bool stopped = false;
    // Chunks go to the SSE parser as they arrive instead of into the body (the parser keeps a
    // reference to the callback).
    auto on_chunk = [&](std::uint64_t, beast::string_view data, beast::error_code& e) -> std::uint64_t {
      if (!stopped && !events.Feed(std::string_view(data.data(), data.size()), on_event)) {
        stopped = true;
        e = asio::error::operation_aborted;
      }
      return data.size();
    };
    if (sse) parser.on_chunk_body(on_chunk);
    while (!parser.is_done()) {
      stream.expires_after(timeout_);
      http::async_read_some(stream, buf, parser, [&](beast::error_code e, size_t) { ec = e; });
      run();
      if (stopped) break;
      if (ec) return Unavailable("reply from " + where + " cut short: " + ec.message());
    }
    if (sse && !stopped && !parser.get().chunked()) events.Feed(parser.get().body(), on_event);  // not chunked
    if (!sse) r.body = std::move(parser.get().body());
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return r;
  } catch (const std::exception& e) {
    return Unavailable("cannot reach " + where + ": " + e.what());
  }
}

std::string ErrorMessageOf(const RestReply& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (auto* e = v.as_object().if_contains("error"); e && e->is_object()) {
      std::string out;
      if (auto* c = e->as_object().if_contains("code"); c && c->is_string()) out += std::string(c->as_string()) + ": ";
      if (auto* m = e->as_object().if_contains("message"); m && m->is_string()) out += std::string(m->as_string());
      return out;
    }
  }
  return r.body;
}

}  // namespace edgesplit::orch
