// Runs `fn(server, client)` (a coroutine over two connected net::Streams) on a fresh io_context
// over loopback, plaintext or TLS: with contexts, both ends complete the mutual handshake first.
#pragma once

#include <catch.hpp>

#include "common/net/async_io.h"

namespace edgesplit::testing {

template <typename Fn>
void WithStreamPair(Fn fn, security::TlsPtr server_tls = nullptr, security::TlsPtr client_tls = nullptr) {
  using namespace std::chrono_literals;
  namespace asio = boost::asio;
  asio::io_context io;
  auto acc = net::Listen(io.get_executor(), "127.0.0.1:0");
  REQUIRE(acc.ok());
  const std::string addr = net::LocalAddress(*acc);
  std::optional<net::Stream> server;
  bool accepted = false, done = false;
  asio::co_spawn(io, [&]() -> net::Awaitable<void> {
    auto [ec, s] = co_await acc->async_accept(asio::as_tuple(asio::use_awaitable));
    REQUIRE(!ec);
    server.emplace(std::move(s), server_tls);
    Status hs = co_await server->Handshake(true, 5s);
    REQUIRE(hs.ok());
    accepted = true;
  }, asio::detached);
  asio::co_spawn(io, [&]() -> net::Awaitable<void> {
    auto client = co_await net::Connect(addr, 5s, client_tls);
    REQUIRE(client.ok());
    asio::steady_timer t(io);
    while (!accepted) {  // the server's handshake finishes after the client's
      t.expires_after(1ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    co_await fn(*server, *client);
    done = true;
  }, asio::detached);
  io.run_for(30s);
  REQUIRE(done);
}

}  // namespace edgesplit::testing
