// Asio C++20 coroutine helpers with a deadline on every operation. Errors are values: each
// helper returns Status (unavailable: peer closed or connection error; deadline_exceeded: the
// deadline fired; resource_exhausted / invalid_argument: the peer sent an oversized or
// malformed message). Helpers must run on the socket's executor; they are not thread-safe with
// respect to other operations on the same socket.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/status.h"
#include "common/net/endpoint.h"
#include "common/net/stream.h"

namespace edgesplit::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
template <typename T>
using Awaitable = asio::awaitable<T>;

// Passing kNoDeadline waits forever (e.g. an idle control channel waiting for commands).
inline constexpr Duration kNoDeadline = Duration::max();

// Maps an Asio error (plus whether our deadline fired) to a Status naming `what`.
Status StatusFromError(const boost::system::error_code& ec, bool deadline_fired, const std::string& what);

// Reads exactly buffer_size(buf) bytes. `bytes_read` (optional) receives how many arrived, also
// on error (0 = the peer closed before sending anything).
Awaitable<Status> ReadExactly(Stream& stream, asio::mutable_buffer buf, Duration deadline,
                              size_t* bytes_read = nullptr);
// Writes all buffers (scatter-gather: no copy into one buffer).
Awaitable<Status> WriteAll(Stream& stream, const std::vector<asio::const_buffer>& bufs, Duration deadline);

// Resolves "host:port" ("localhost" and literals only) to an endpoint.
Result<tcp::endpoint> ResolveEndpoint(const std::string& host_port);

// Dials `host_port` with a deadline (for the TCP connect and the TLS handshake together); sets
// TCP_NODELAY. With TLS the server must present a certificate meeting `want` (permission_denied
// otherwise: e.g. an impostor at a peer's address). Arguments by value: the coroutine may run
// after the caller's temporaries are gone.
Awaitable<Result<Stream>> Connect(std::string host_port, Duration deadline, security::TlsPtr tls,
                                  PeerRequirement want);
// Any peer the CA vouches for. (An overload, not a default argument: GCC 12 destroys a braced
// default argument of a coroutine twice.)
inline Awaitable<Result<Stream>> Connect(std::string host_port, Duration deadline, security::TlsPtr tls) {
  return Connect(std::move(host_port), deadline, std::move(tls), PeerRequirement());
}

// Binds and listens (port 0 picks a free port); reuse_address on.
Result<tcp::acceptor> Listen(asio::any_io_executor ex, const std::string& host_port, int backlog = 128);

// "ip:port" of a bound acceptor or a socket's local end.
std::string LocalAddress(const tcp::acceptor& a);

}  // namespace edgesplit::net
