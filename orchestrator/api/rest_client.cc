#include "orchestrator/api/rest_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

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
