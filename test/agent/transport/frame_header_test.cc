#include "agent/transport/frame_header.h"
#include "agent/transport/payload_policy.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::transport;

namespace {
std::array<uint8_t, kFrameHeaderBytes> Header(uint32_t meta, uint64_t payload) {
  std::array<uint8_t, kFrameHeaderBytes> b{};
  EncodeFrameHeader({meta, payload}, b.data());
  return b;
}
}  // namespace

TEST_CASE("a header round-trips") {
  auto b = Header(100, 1u << 20);
  RejectReason r{};
  auto h = DecodeFrameHeader(b.data(), {}, &r);
  REQUIRE(h.ok());
  CHECK(h->meta_len == 100);
  CHECK(h->payload_len == (1u << 20));
}

TEST_CASE("a header with the wrong magic is rejected as bad_magic") {
  auto b = Header(1, 1);
  b[0] = 'G';
  RejectReason r{};
  CHECK_FALSE(DecodeFrameHeader(b.data(), {}, &r).ok());
  CHECK(r == RejectReason::kBadMagic);
}

TEST_CASE("a header with an unknown version is rejected as bad_version") {
  auto b = Header(1, 1);
  b[5] = 9;
  RejectReason r{};
  CHECK_FALSE(DecodeFrameHeader(b.data(), {}, &r).ok());
  CHECK(r == RejectReason::kBadVersion);
}

TEST_CASE("a frame over the length limit is rejected before allocation") {
  FrameLimits lim;
  lim.max_frame_bytes = 1000;
  RejectReason r{};
  auto b = Header(10, 1000);
  CHECK_FALSE(DecodeFrameHeader(b.data(), lim, &r).ok());
  CHECK(r == RejectReason::kTooLarge);
  auto huge = Header(10, ~uint64_t{0});
  CHECK_FALSE(DecodeFrameHeader(huge.data(), {}, &r).ok());
  CHECK(r == RejectReason::kTooLarge);
  auto bigmeta = Header(1u << 30, 0);
  CHECK_FALSE(DecodeFrameHeader(bigmeta.data(), {}, &r).ok());
  CHECK(r == RejectReason::kTooLarge);
}

TEST_CASE("tensor metadata: each rule has its reason") {
  FrameLimits lim;
  RejectReason r{};
  CHECK(ValidateTensorMeta(1, {2, 3}, 24, lim, &r).ok());
  CHECK_FALSE(ValidateTensorMeta(99, {2, 3}, 24, lim, &r).ok());
  CHECK(r == RejectReason::kUnknownDtype);
  CHECK_FALSE(ValidateTensorMeta(1, std::vector<int64_t>(9, 1), 4, lim, &r).ok());
  CHECK(r == RejectReason::kBadRank);
  CHECK_FALSE(ValidateTensorMeta(1, {2, 0}, 0, lim, &r).ok());
  CHECK(r == RejectReason::kBadDims);
  CHECK_FALSE(ValidateTensorMeta(1, {2, -3}, 24, lim, &r).ok());
  CHECK(r == RejectReason::kBadDims);
  CHECK_FALSE(ValidateTensorMeta(1, {2, 3}, 25, lim, &r).ok());
  CHECK(r == RejectReason::kByteCountMismatch);
  CHECK_FALSE(ValidateTensorMeta(1, {1LL << 40, 1LL << 40}, 24, lim, &r).ok());
  CHECK(r == RejectReason::kTooLarge);
}

TEST_CASE("only verified kinds allocate their payload up front; kinds without tensors carry none") {
  using edgesplit::transport::FrameKind;
  using edgesplit::transport::PayloadMode;
  using edgesplit::transport::PayloadRuleFor;
  for (FrameKind k : {FrameKind::kRequest, FrameKind::kGenerate, FrameKind::kActivation, FrameKind::kStep}) {
    CHECK(PayloadRuleFor(k).tensor_allowed);
    CHECK(PayloadRuleFor(k).mode == PayloadMode::kAllocate);
  }
  CHECK(PayloadRuleFor(FrameKind::kResult).mode == PayloadMode::kGrow);
  CHECK(PayloadRuleFor(FrameKind::kProbe).mode == PayloadMode::kDiscard);
  for (FrameKind k : {FrameKind::kError, FrameKind::kProbeReply, FrameKind::kToken, FrameKind::kGenDone,
                      FrameKind::kSessionEnd, FrameKind::kUnspecified})
    CHECK_FALSE(PayloadRuleFor(k).tensor_allowed);
}
