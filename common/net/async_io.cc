#include "common/net/async_io.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

namespace edgesplit::net {

using namespace asio::experimental::awaitable_operators;
using asio::as_tuple;
using asio::use_awaitable;

Status StatusFromError(const boost::system::error_code& ec, bool deadline_fired, const std::string& what) {
  if (!ec) return Status::Ok();
  if (deadline_fired) return DeadlineExceeded(what + ": deadline exceeded");
  // A TLS peer that closes without close_notify reads as a truncated stream: the same event.
  if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
    return Unavailable(what + ": peer closed the connection");
  return Unavailable(what + ": " + ec.message());
}

namespace {

// Runs `op` (an awaitable<tuple<error_code, size_t>>) racing a timer.
template <typename Op>
Awaitable<Status> WithDeadline(Stream& socket, Op op, Duration deadline, const char* what,
                               size_t* transferred = nullptr) {
  if (deadline == kNoDeadline) {
    auto [ec, n] = co_await std::move(op);
    if (transferred) *transferred = n;
    co_return StatusFromError(ec, false, what);
  }
  asio::steady_timer timer(socket.get_executor());
  timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(deadline));
  auto result = co_await (std::move(op) || timer.async_wait(as_tuple(use_awaitable)));
  if (result.index() == 1) {
    if (transferred) *transferred = 0;  // unknown after cancellation; callers treat it as a stall
    co_return DeadlineExceeded(std::string(what) + ": deadline exceeded");
  }
  auto [ec, n] = std::get<0>(result);
  if (transferred) *transferred = n;
  co_return StatusFromError(ec, false, what);
}

}  // namespace

Awaitable<Status> ReadExactly(Stream& socket, asio::mutable_buffer buf, Duration deadline, size_t* bytes_read) {
  co_return co_await WithDeadline(socket, asio::async_read(socket, buf, as_tuple(use_awaitable)), deadline, "read",
                                  bytes_read);
}

Awaitable<Status> WriteAll(Stream& socket, const std::vector<asio::const_buffer>& bufs, Duration deadline) {
  co_return co_await WithDeadline(socket, asio::async_write(socket, bufs, as_tuple(use_awaitable)), deadline, "write");
}

Result<tcp::endpoint> ResolveEndpoint(const std::string& host_port) {
  ES_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(host_port));
  std::string host = hp.host == "localhost" ? "127.0.0.1" : hp.host;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("address '" + host_port + "': host must be an IP literal or localhost");
  return tcp::endpoint(addr, hp.port);
}

Awaitable<Result<Stream>> Connect(std::string host_port, Duration deadline, security::TlsPtr tls,
                                  PeerRequirement want) {
  const auto start = std::chrono::steady_clock::now();
  auto ep = ResolveEndpoint(host_port);
  if (!ep.ok()) co_return ep.status();
  auto ex = co_await asio::this_coro::executor;
  tcp::socket socket(ex);
  asio::steady_timer timer(ex);
  timer.expires_after(std::chrono::duration_cast<asio::steady_timer::duration>(
      deadline == kNoDeadline ? std::chrono::hours(24) : deadline));
  auto result = co_await (socket.async_connect(*ep, as_tuple(use_awaitable)) || timer.async_wait(as_tuple(use_awaitable)));
  if (result.index() == 1) co_return DeadlineExceeded("connect to " + host_port + ": deadline exceeded");
  auto [ec] = std::get<0>(result);
  if (ec) co_return Unavailable("connect to " + host_port + ": " + ec.message());
  socket.set_option(tcp::no_delay(true), ec);
  Stream stream(std::move(socket), tls);
  const auto left = deadline == kNoDeadline ? std::chrono::steady_clock::duration(std::chrono::hours(24))
                                            : std::max<std::chrono::steady_clock::duration>(
                                                  std::chrono::milliseconds(1),
                                                  deadline - (std::chrono::steady_clock::now() - start));
  Status hs = co_await stream.Handshake(false, left);
  if (!hs.ok()) co_return Status(hs.code(), "connect to " + host_port + ": " + hs.message());
  Status who = CheckPeer(stream, want);
  if (!who.ok()) co_return Status(who.code(), "connect to " + host_port + ": " + who.message());
  co_return std::move(stream);
}

Result<tcp::acceptor> Listen(asio::any_io_executor ex, const std::string& host_port, int backlog) {
  ES_ASSIGN_OR_RETURN(tcp::endpoint ep, ResolveEndpoint(host_port));
  tcp::acceptor a(ex);
  boost::system::error_code ec;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(backlog, ec);
  if (ec) return Unavailable("listen on " + host_port + ": " + ec.message());
  return a;
}

std::string LocalAddress(const tcp::acceptor& a) {
  boost::system::error_code ec;
  auto ep = a.local_endpoint(ec);
  if (ec) return "";
  HostPort hp{ep.address().to_string(), ep.port()};
  return hp.ToString();
}

}  // namespace edgesplit::net
