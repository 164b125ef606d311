#include "agent/transport/frame_io.h"

#include <catch.hpp>

#include "test/support/stream_pair.h"
#include "test/support/test_pki.h"
#include <array>
#include <cstring>

using namespace edgesplit;
using namespace edgesplit::transport;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Every case runs twice: over plain TCP and over mutual TLS (the framing must not care).
template <typename Fn>
void WithSocketPair(Fn fn) {
  testing::WithStreamPair(fn);
  auto& pki = testing::TestPki::Get();
  testing::WithStreamPair(fn, pki.Context("server", security::Role::kAgent), pki.Context("client", security::Role::kClient));
}

HostTensor Iota(std::vector<int64_t> shape) {
  HostTensor t = HostTensor::Allocate(DType::kFloat32, std::move(shape));
  float* p = reinterpret_cast<float*>(t.data);
  for (size_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(i) * 0.5f;
  return t;
}

}  // namespace

TEST_CASE("a data frame round-trips with metadata and tensor bytes") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame f;
    f.kind = FrameKind::kActivation;
    f.request_id = 42;
    f.deployment = "d";
    f.epoch = 3;
    f.layer = 2;
    f.origin = "127.0.0.1:9";
    f.has_tensor = true;
    f.tensor = Iota({2, 3, 4});
    Status ws = co_await WriteFrame(client, f, 5s);
    REQUIRE(ws.ok());
    Frame got;
    ReadFrameOutcome out;
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, nullptr, &got, &out);
    REQUIRE(rs.ok());
    CHECK(got.kind == FrameKind::kActivation);
    CHECK(got.request_id == 42);
    CHECK(got.epoch == 3);
    CHECK(got.layer == 2);
    CHECK(got.origin == "127.0.0.1:9");
    CHECK(got.tensor.SameBytes(f.tensor));
  });
}

TEST_CASE("the caller's check rejects a frame before its payload is read") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame f;
    f.kind = FrameKind::kActivation;
    f.epoch = 7;
    f.has_tensor = true;
    f.tensor = Iota({4});
    Status ws = co_await WriteFrame(client, f, 5s);
    REQUIRE(ws.ok());
    Frame got;
    ReadFrameOutcome out;
    FrameCheck check = [](const Frame& m) -> std::optional<FrameError> {
      if (m.epoch != 1) return FrameError{RejectReason::kUnknownEpoch, NotFound("unknown epoch")};
      return std::nullopt;
    };
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, check, &got, &out);
    CHECK(rs.code() == StatusCode::kNotFound);
    REQUIRE(out.reject.has_value());
    CHECK(*out.reject == RejectReason::kUnknownEpoch);
    CHECK(got.tensor.data == nullptr);
  });
}

TEST_CASE("a frame without metadata is rejected as bad_meta") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    std::array<uint8_t, kFrameHeaderBytes> hdr{};
    EncodeFrameHeader({0, 1000}, hdr.data());
    std::vector<asio::const_buffer> bufs{asio::buffer(hdr)};
    Status ws = co_await net::WriteAll(client, bufs, 5s);
    REQUIRE(ws.ok());
    client.close();
    Frame got;
    ReadFrameOutcome out;
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, nullptr, &got, &out);
    CHECK_FALSE(rs.ok());
    REQUIRE(out.reject.has_value());
    CHECK(*out.reject == RejectReason::kBadMeta);
  });
}

TEST_CASE("a frame cut off inside its payload is truncated") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame f;
    f.kind = FrameKind::kActivation;
    f.has_tensor = true;
    f.tensor = Iota({1000});
    const std::string meta = EncodeFrameMeta(f);
    std::array<uint8_t, kFrameHeaderBytes> hdr{};
    EncodeFrameHeader({static_cast<uint32_t>(meta.size()), f.tensor.nbytes}, hdr.data());
    std::vector<asio::const_buffer> bufs{asio::buffer(hdr), asio::buffer(meta), asio::buffer(f.tensor.data, 100)};
    Status ws = co_await net::WriteAll(client, bufs, 5s);
    REQUIRE(ws.ok());
    client.close();
    Frame got;
    ReadFrameOutcome out;
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, nullptr, &got, &out);
    CHECK(rs.code() == StatusCode::kUnavailable);
    REQUIRE(out.reject.has_value());
    CHECK(*out.reject == RejectReason::kTruncated);
  });
}

TEST_CASE("a close between frames is clean") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    client.close();
    Frame got;
    ReadFrameOutcome out;
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, nullptr, &got, &out);
    CHECK_FALSE(rs.ok());
    CHECK(out.clean_close);
    CHECK_FALSE(out.reject.has_value());
  });
}

TEST_CASE("an unverified payload grows as it arrives and ends up whole") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame f;
    f.kind = FrameKind::kResult;
    f.request_id = 5;
    f.has_tensor = true;
    f.tensor = Iota({3, 100001});  // 1.2 MB: several doublings from 64 KiB, not a power of two
    asio::co_spawn(client.get_executor(), [&]() -> Awaitable<void> { (void)co_await WriteFrame(client, f, 5s); },
                   asio::detached);
    Frame got;
    ReadFrameOutcome out;
    FrameCheck check = [](const Frame&) { return FrameVerdict(std::nullopt, PayloadMode::kGrow); };
    Status rs = co_await ReadFrame(server, {}, 5s, 5s, check, &got, &out);
    REQUIRE(rs.ok());
    CHECK_FALSE(out.payload_discarded);
    CHECK(got.tensor.SameBytes(f.tensor));
  });
}

TEST_CASE("a discarded payload is read through without being kept, and the next frame follows") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame probe;
    probe.kind = FrameKind::kProbe;
    probe.request_id = 1;
    probe.has_tensor = true;
    probe.tensor = Iota({50000});  // 200 KB: several 64 KiB rounds, and it fits the socket buffers
    Frame next;
    next.kind = FrameKind::kProbe;
    next.request_id = 2;
    REQUIRE((co_await WriteFrame(client, probe, 5s)).ok());
    REQUIRE((co_await WriteFrame(client, next, 5s)).ok());
    FrameCheck check = [](const Frame& m) { return FrameVerdict(std::nullopt, PayloadRuleFor(m.kind).mode); };
    Frame got;
    ReadFrameOutcome out;
    REQUIRE((co_await ReadFrame(server, {}, 5s, 5s, check, &got, &out)).ok());
    CHECK(out.payload_discarded);
    CHECK(got.request_id == 1);
    CHECK(got.tensor.data == nullptr);
    CHECK(got.tensor.shape == std::vector<int64_t>{50000});  // the description is kept
    Frame second;
    ReadFrameOutcome out2;
    REQUIRE((co_await ReadFrame(server, {}, 5s, 5s, check, &second, &out2)).ok());
    CHECK(second.request_id == 2);
  });
}

TEST_CASE("one deadline covers a whole frame: a peer dripping its payload is cut off") {
  WithSocketPair([](net::Stream& server, net::Stream& client) -> Awaitable<void> {
    Frame f;
    f.kind = FrameKind::kResult;
    f.has_tensor = true;
    f.tensor = Iota({1 << 20});
    const std::string meta = EncodeFrameMeta(f);
    std::array<uint8_t, kFrameHeaderBytes> hdr{};
    EncodeFrameHeader({static_cast<uint32_t>(meta.size()), f.tensor.nbytes}, hdr.data());
    std::vector<asio::const_buffer> bufs{asio::buffer(hdr), asio::buffer(meta), asio::buffer(f.tensor.data, 1000)};
    REQUIRE((co_await net::WriteAll(client, bufs, 5s)).ok());  // then nothing more
    FrameCheck check = [](const Frame&) { return FrameVerdict(std::nullopt, PayloadMode::kGrow); };
    Frame got;
    ReadFrameOutcome out;
    Status rs = co_await ReadFrame(server, {}, 5s, 200ms, check, &got, &out);
    CHECK(rs.code() == StatusCode::kDeadlineExceeded);
    REQUIRE(out.reject.has_value());
    CHECK(*out.reject == RejectReason::kTruncated);
  });
}
