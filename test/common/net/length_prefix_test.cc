#include "common/net/length_prefix.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::net;

TEST_CASE("length prefix round-trips big-endian") {
  uint8_t b[4];
  EncodeLengthPrefix(0x01020304u, b);
  CHECK(b[0] == 1);
  CHECK(b[3] == 4);
  auto n = DecodeLengthPrefix(b, 1u << 30);
  REQUIRE(n.ok());
  CHECK(*n == 0x01020304u);
}

TEST_CASE("length prefix over the limit is rejected before allocation") {
  uint8_t b[4];
  EncodeLengthPrefix(1001, b);
  auto n = DecodeLengthPrefix(b, 1000);
  REQUIRE_FALSE(n.ok());
  CHECK(n.status().code() == StatusCode::kResourceExhausted);
}

TEST_CASE("empty message can be refused") {
  uint8_t b[4] = {0, 0, 0, 0};
  CHECK(DecodeLengthPrefix(b, 10).ok());
  CHECK_FALSE(DecodeLengthPrefix(b, 10, false).ok());
}

TEST_CASE("FrameBody prefixes the body") {
  auto f = FrameBody("abc");
  REQUIRE(f.ok());
  CHECK(f->size() == 7);
  CHECK(f->substr(4) == "abc");
}
