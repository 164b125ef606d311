// Blocking HTTP/1.1 calls to an agent's HTTP port for tests (one request per connection).
#pragma once

#include <sys/socket.h>

#include <boost/asio.hpp>
#include <string>

#include "common/net/async_io.h"

namespace edgesplit::testing {

inline std::string HttpCall(const std::string& method, const std::string& address, const std::string& path,
                     const std::string& body, int* status) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect(*net::ResolveEndpoint(address));
  timeval tv{10, 0};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string req = method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                          (body.empty() && method == "GET" ? std::string()
                                                           : "Content-Type: application/json\r\nContent-Length: " +
                                                                 std::to_string(body.size()) + "\r\n") +
                          "\r\n" + body;
  boost::asio::write(s, boost::asio::buffer(req));
  std::string resp;
  char buf[4096];
  boost::system::error_code ec;
  while (!ec) {
    const size_t n = s.read_some(boost::asio::buffer(buf), ec);
    resp.append(buf, n);
  }
  *status = resp.size() > 12 ? std::atoi(resp.substr(9, 3).c_str()) : 0;
  return resp;
}

inline std::string HttpGet(const std::string& address, const std::string& path, int* status) {
  return HttpCall("GET", address, path, "", status);
}

// Reports 1 ms per layer whatever the real time: the emulated slowdown must scale it.

}  // namespace edgesplit::testing
