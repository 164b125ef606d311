#include "common/net/framed_message.h"

#include <catch.hpp>

#include "test/support/stream_pair.h"
#include "test/support/test_pki.h"

#include <array>

#include "common/proto/control.pb.h"

using namespace edgesplit;
using namespace edgesplit::net;
using namespace std::chrono_literals;

namespace {

// Runs `fn(server_socket, client_socket)` as a coroutine on a fresh io_context over loopback.
// Every case runs twice: over plain TCP and over mutual TLS (the framing must not care).
template <typename Fn>
void WithSocketPair(Fn fn) {
  testing::WithStreamPair(fn);
  auto& pki = testing::TestPki::Get();
  testing::WithStreamPair(fn, pki.Context("server", security::Role::kAgent), pki.Context("client", security::Role::kClient));
}

}  // namespace

TEST_CASE("a framed protobuf message round-trips over loopback") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    v1::AgentToOrchestrator m;
    m.mutable_register_()->set_node("n1");
    m.mutable_register_()->set_data_address("127.0.0.1:1");
    Status s = co_await WriteMessage(client, m, 5s);
    REQUIRE(s.ok());
    v1::AgentToOrchestrator got;
    s = co_await ReadMessage(server, &got, 5s);
    REQUIRE(s.ok());
    CHECK(got.register_().node() == "n1");
  });
}

TEST_CASE("an oversized length prefix is refused without reading the body") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    std::array<uint8_t, 4> prefix{};
    EncodeLengthPrefix(0xFFFFFFF0u, prefix.data());
    std::vector<asio::const_buffer> bufs{asio::buffer(prefix)};
    Status ws = co_await WriteAll(client, bufs, 5s);
    REQUIRE(ws.ok());
    v1::AgentToOrchestrator got;
    Status s = co_await ReadMessage(server, &got, 5s, 1024);
    CHECK(s.code() == StatusCode::kResourceExhausted);
  });
}

TEST_CASE("a read from a silent peer ends with deadline_exceeded") {
  WithSocketPair([](net::Stream& server, net::Stream&) -> Awaitable<void> {
    v1::AgentToOrchestrator got;
    Status s = co_await ReadMessage(server, &got, 20ms);
    CHECK(s.code() == StatusCode::kDeadlineExceeded);
  });
}

TEST_CASE("a peer closing mid-message gives unavailable") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    std::array<uint8_t, 4> prefix{};
    EncodeLengthPrefix(100, prefix.data());
    std::vector<asio::const_buffer> bufs{asio::buffer(prefix), asio::buffer("abc", 3)};
    Status ws = co_await WriteAll(client, bufs, 5s);
    REQUIRE(ws.ok());
    client.close();
    v1::AgentToOrchestrator got;
    Status s = co_await ReadMessage(server, &got, 5s);
    CHECK(s.code() == StatusCode::kUnavailable);
  });
}

TEST_CASE("garbage bodies are invalid_argument") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    auto framed = FrameBody(std::string("\xff\xff\xff\xff\xff", 5));
    std::vector<asio::const_buffer> bufs{asio::buffer(*framed)};
    Status ws = co_await WriteAll(client, bufs, 5s);
    REQUIRE(ws.ok());
    v1::AgentToOrchestrator got;
    Status s = co_await ReadMessage(server, &got, 5s);
    CHECK(s.code() == StatusCode::kInvalidArgument);
  });
}

TEST_CASE("the outbox writes queued messages in order and refuses when full") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    MessageOutbox outbox(client, {.max_queued = 2});
    v1::OrchestratorToAgent m;
    m.mutable_command()->set_command_id(1);
    REQUIRE(outbox.Push(m).ok());
    m.mutable_command()->set_command_id(2);
    REQUIRE(outbox.Push(m).ok());
    CHECK(outbox.Push(m).code() == StatusCode::kResourceExhausted);
    auto ex = co_await asio::this_coro::executor;
    asio::co_spawn(ex, outbox.Run(), asio::detached);
    for (uint64_t id = 1; id <= 2; ++id) {
      v1::OrchestratorToAgent got;
      Status s = co_await ReadMessage(server, &got, 5s);
      REQUIRE(s.ok());
      CHECK(got.command().command_id() == id);
    }
    outbox.Close();
  });
}

TEST_CASE("a message larger than one read chunk arrives whole; a body that stalls hits the deadline") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    v1::AgentToOrchestrator m;
    m.mutable_register_()->set_node(std::string(300000, 'n'));  // ~300 KB: several 64 KiB chunks
    Status s = co_await WriteMessage(client, m, 5s);
    REQUIRE(s.ok());
    v1::AgentToOrchestrator got;
    s = co_await ReadMessage(server, &got, 5s);
    REQUIRE(s.ok());
    CHECK(got.register_().node().size() == 300000);
    // Announce 4 MiB and send 10 bytes: the reader waits for bytes (holding only what came),
    // then gives up at the deadline.
    std::array<uint8_t, 4> prefix{};
    EncodeLengthPrefix(4u << 20, prefix.data());
    std::array<uint8_t, 10> some{};
    std::vector<asio::const_buffer> bufs{asio::buffer(prefix), asio::buffer(some)};
    REQUIRE((co_await WriteAll(client, bufs, 5s)).ok());
    s = co_await ReadMessage(server, &got, 200ms, 8u << 20);
    CHECK(s.code() == StatusCode::kDeadlineExceeded);
  });
}
