#include "agent/daemon/emulation.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;

TEST_CASE("emulation updates: either key, both, or none") {
  auto u = ParseEmulationUpdate(R"({"compute_slowdown": 3.0, "egress_mbps": 8})");
  REQUIRE(u.ok());
  CHECK(*u->compute_slowdown == 3.0);
  CHECK(*u->egress_mbps == 8.0);
  u = ParseEmulationUpdate(" { \"egress_mbps\" : 0 }\n");
  REQUIRE(u.ok());
  CHECK(!u->compute_slowdown);
  CHECK(*u->egress_mbps == 0.0);
  u = ParseEmulationUpdate("{}");
  REQUIRE(u.ok());
  CHECK(!u->compute_slowdown);
  CHECK(!u->egress_mbps);
  u = ParseEmulationUpdate(R"({"compute_slowdown": 1e3})");
  REQUIRE(u.ok());
  CHECK(*u->compute_slowdown == 1000.0);
}

TEST_CASE("emulation updates apply only the keys given") {
  EmulationConfig cur;
  cur.compute_slowdown = 1.5;
  cur.egress_mbps = 400;
  EmulationConfig next = ApplyEmulationUpdate(cur, *ParseEmulationUpdate(R"({"egress_mbps": 8})"));
  CHECK(next.compute_slowdown == 1.5);
  CHECK(next.egress_mbps == 8.0);
  next = ApplyEmulationUpdate(next, *ParseEmulationUpdate(R"({"compute_slowdown": 4})"));
  CHECK(next.compute_slowdown == 4.0);
  CHECK(next.egress_mbps == 8.0);
  CHECK(EmulationJson(next) == R"({"compute_slowdown":4,"egress_mbps":8})");
}

TEST_CASE("bad emulation bodies are invalid_argument") {
  for (const char* body : {"", "null", "[]", "{", "{\"compute_slowdown\": }", "{\"compute_slowdown\": \"3\"}",
                           "{\"compute_slowdown\": 3,}", "{\"compute_slowdown\": 3} x", "{compute_slowdown: 3}",
                           "{\"compute_slowdown\": 0.5}", "{\"compute_slowdown\": 1001}", "{\"compute_slowdown\": -2}",
                           "{\"egress_mbps\": -1}", "{\"egress_mbps\": 1e999}", "{\"egress_mbps\": 01}",
                           "{\"egress_mbps\": .5}", "{\"egress_mbps\": NaN}", "{\"speed\": 2}",
                           "{\"egress_mbps\": 1, \"egress_mbps\": 2}", "{\"egress_mbps\": true}"}) {
    INFO(body);
    auto u = ParseEmulationUpdate(body);
    CHECK(u.status().code() == StatusCode::kInvalidArgument);
  }
}
