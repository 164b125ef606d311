#include "orchestrator/policy/events.h"

#include <catch.hpp>

using namespace edgesplit::orch;

TEST_CASE("the event log is bounded and filters by sequence and deployment") {
  EventLog log(3);
  for (int i = 0; i < 5; ++i) {
    Event e;
    e.deployment = i % 2 ? "x" : "y";
    log.Add(e);
  }
  CHECK(log.size() == 3);
  auto all = log.Since(0, 10);
  REQUIRE(all.size() == 3);
  CHECK(all.front().seq == 3);
  CHECK(log.Since(4, 10).size() == 1);
  CHECK(log.Since(0, 10, "x").size() == 1);
  CHECK(log.Since(0, 2).size() == 2);
}
