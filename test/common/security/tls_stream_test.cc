// net::Stream over real loopback TCP: mutual TLS 1.3 works, and every way in without the right
// certificate is refused at the handshake.
#include <catch.hpp>

#include <openssl/ssl.h>

#include "common/net/framed_message.h"
#include "common/proto/control.pb.h"
#include "common/security/pki.h"
#include "test/support/stream_pair.h"
#include "test/support/test_pki.h"

using namespace edgesplit;
using namespace edgesplit::security;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Server handshake outcome and client connect outcome for one attempt.
struct Attempt {
  Status server, client;
  PeerIdentity seen_by_server;
};

Attempt TryConnect(TlsPtr server_tls, TlsPtr client_tls, net::PeerRequirement want = {}) {
  asio::io_context io;
  auto acc = net::Listen(io.get_executor(), "127.0.0.1:0");
  REQUIRE(acc.ok());
  const std::string addr = net::LocalAddress(*acc);
  Attempt a;
  asio::co_spawn(io, [&]() -> net::Awaitable<void> {
    auto [ec, s] = co_await acc->async_accept(asio::as_tuple(asio::use_awaitable));
    REQUIRE(!ec);
    net::Stream st(std::move(s), server_tls);
    a.server = co_await st.Handshake(true, 3s);
    a.seen_by_server = st.peer();
    if (a.server.ok()) {  // keep the connection until the client has read the session ticket
      char b = 0;
      (void)co_await net::ReadExactly(st, asio::buffer(&b, 1), 2s);
    }
  }, asio::detached);
  asio::co_spawn(io, [&]() -> net::Awaitable<void> {
    auto c = co_await net::Connect(addr, 3s, client_tls, want);
    a.client = c.status();
    if (c.ok()) {
      // TLS 1.3 sends the server's verdict on the client certificate after the client's
      // handshake returns: a write and a read make it visible.
      char b = 'x';
      std::vector<asio::const_buffer> bufs{asio::buffer(&b, 1)};
      a.client = co_await net::WriteAll(*c, bufs, 2s);
    }
  }, asio::detached);
  io.run_for(10s);
  return a;
}

}  // namespace

TEST_CASE("mutual TLS: both ends learn the other's certificate name and role") {
  auto& pki = testing::TestPki::Get();
  auto server = pki.Context("stage-1", Role::kAgent);
  auto client = pki.Context("alice", Role::kClient);
  Attempt a = TryConnect(server, client, {{Role::kAgent}, "stage-1"});
  CHECK(a.server.ok());
  CHECK(a.client.ok());
  CHECK(a.seen_by_server.authenticated);
  CHECK(a.seen_by_server.name == "alice");
  CHECK(a.seen_by_server.role == Role::kClient);
}

TEST_CASE("a plaintext client on a TLS port is refused") {
  Attempt a = TryConnect(testing::TestPki::Get().Context("stage-2", Role::kAgent), nullptr);
  CHECK_FALSE(a.server.ok());
  CHECK(a.server.message().find("TLS handshake") != std::string::npos);
}

TEST_CASE("a certificate of another CA is refused by both sides") {
  const std::string other = testing::TestPki::Get().dir() + "/rogue-ca";
  REQUIRE(InitCa(other).ok());
  auto rogue = IssueCertificate(other, "stage-1", Role::kAgent);
  REQUIRE(rogue.ok());
  auto rogue_ctx = TlsContext::Create({true, true, rogue->ca, rogue->cert, rogue->key, {}});
  REQUIRE(rogue_ctx.ok());
  auto good = testing::TestPki::Get().Context("stage-3", Role::kAgent);
  // Rogue client (same name as a real node) to a real server.
  Attempt in = TryConnect(good, *rogue_ctx);
  CHECK_FALSE(in.server.ok());
  // Real client to a rogue server impersonating stage-1.
  Attempt out = TryConnect(*rogue_ctx, good, {{Role::kAgent}, "stage-1"});
  CHECK_FALSE(out.client.ok());
}

TEST_CASE("a revoked certificate is refused at the handshake") {
  auto& pki = testing::TestPki::Get();
  auto server = pki.Context("stage-4", Role::kAgent);
  auto client = pki.Context("mallory", Role::kClient);
  server->SetRevoked({"mallory"});
  Attempt a = TryConnect(server, client);
  CHECK(a.server.code() == StatusCode::kPermissionDenied);
  server->SetRevoked({});
}

TEST_CASE("the dialer refuses a server with the wrong name or role") {
  auto& pki = testing::TestPki::Get();
  auto impostor = pki.Context("stage-9", Role::kAgent);
  auto client = pki.Context("bob", Role::kClient);
  Attempt wrong_name = TryConnect(impostor, client, {{Role::kAgent}, "stage-5"});
  CHECK(wrong_name.client.code() == StatusCode::kPermissionDenied);
  Attempt wrong_role = TryConnect(pki.Context("carol", Role::kClient), client, {{Role::kOrchestrator}, ""});
  CHECK_FALSE(wrong_role.client.ok());
}

TEST_CASE("framed messages cross TLS intact, including large ones") {
  auto& pki = testing::TestPki::Get();
  testing::WithStreamPair(
      [](net::Stream& server, net::Stream& client) -> net::Awaitable<void> {
        auto m = std::make_shared<v1::AgentToOrchestrator>();
        m->mutable_register_()->set_node(std::string(3 << 20, 'n'));  // 3 MiB: many TLS records
        auto wrote = std::make_shared<Status>(Unavailable("not yet"));
        // The writer runs alongside the reader: 3 MiB do not fit in the socket buffers.
        asio::co_spawn(client.get_executor(), [&client, m, wrote]() -> net::Awaitable<void> {
          *wrote = co_await net::WriteMessage(client, *m, 5s);
        }, asio::detached);
        v1::AgentToOrchestrator got;
        Status read = co_await net::ReadMessage(server, &got, 5s, size_t{8} << 20);
        INFO(read.ToString());
        REQUIRE(read.ok());
        CHECK(wrote->ok());
        CHECK(got.register_().node() == m->register_().node());
        CHECK(server.tls());
        CHECK(server.peer().name == "client-x");
        co_return;
      },
      pki.Context("server-x", Role::kAgent), pki.Context("client-x", Role::kClient));
}
