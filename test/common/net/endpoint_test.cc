#include "common/net/endpoint.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::net;

TEST_CASE("parses host:port and [v6]:port") {
  auto a = ParseHostPort("127.0.0.1:7000");
  REQUIRE(a.ok());
  CHECK(a->host == "127.0.0.1");
  CHECK(a->port == 7000);
  auto b = ParseHostPort("[::1]:0");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->ToString() == "[::1]:0");
}

TEST_CASE("rejects malformed addresses") {
  CHECK_FALSE(ParseHostPort("nohost").ok());
  CHECK_FALSE(ParseHostPort("h:").ok());
  CHECK_FALSE(ParseHostPort("h:70000").ok());
  CHECK_FALSE(ParseHostPort("h:12x").ok());
  CHECK_FALSE(ParseHostPort("::1:80").ok());
}
