#include "common/net/connection_limiter.h"

#include <catch.hpp>

using namespace edgesplit::net;

TEST_CASE("refuses a peer past its own cap while other peers are still admitted") {
  ConnectionLimiter lim({/*max_connections=*/10, /*max_per_peer=*/2});
  ConnectionLimiter::Slot a, b, c, d;
  REQUIRE(lim.TryAdmit("10.0.0.1", &a) == Admission::kAdmitted);
  REQUIRE(lim.TryAdmit("10.0.0.1", &b) == Admission::kAdmitted);
  REQUIRE(lim.TryAdmit("10.0.0.1", &c) == Admission::kRefusedPerPeer);
  CHECK_FALSE(c.held());
  REQUIRE(lim.TryAdmit("10.0.0.2", &d) == Admission::kAdmitted);
  CHECK(lim.open() == 3);
  CHECK(lim.open_from("10.0.0.1") == 2);
}

TEST_CASE("refuses everyone once the port's total is reached") {
  ConnectionLimiter lim({2, 2});
  ConnectionLimiter::Slot a, b, c;
  REQUIRE(lim.TryAdmit("a", &a) == Admission::kAdmitted);
  REQUIRE(lim.TryAdmit("b", &b) == Admission::kAdmitted);
  CHECK(lim.TryAdmit("c", &c) == Admission::kRefusedTotal);
  CHECK(std::string(AdmissionName(Admission::kRefusedTotal)) == "max_connections");
  CHECK(std::string(AdmissionName(Admission::kRefusedPerPeer)) == "max_per_peer");
}

TEST_CASE("gives the place back when the slot is destroyed, moved-from slots hold nothing") {
  ConnectionLimiter lim({1, 1});
  {
    ConnectionLimiter::Slot a;
    REQUIRE(lim.TryAdmit("p", &a) == Admission::kAdmitted);
    ConnectionLimiter::Slot moved = std::move(a);
    CHECK_FALSE(a.held());
    CHECK(moved.held());
    CHECK(lim.open() == 1);
  }
  CHECK(lim.open() == 0);
  CHECK(lim.open_from("p") == 0);
  ConnectionLimiter::Slot again;
  CHECK(lim.TryAdmit("p", &again) == Admission::kAdmitted);
}

TEST_CASE("a slot may outlive its limiter") {
  ConnectionLimiter::Slot s;
  {
    ConnectionLimiter lim({1, 1});
    REQUIRE(lim.TryAdmit("p", &s) == Admission::kAdmitted);
  }
  s = ConnectionLimiter::Slot();  // releases into the shared state: no crash
  CHECK_FALSE(s.held());
}

TEST_CASE("connection limits must be positive") {
  CHECK(ConnectionLimits{1, 1}.Validate("data").ok());
  auto s = ConnectionLimits{0, 0}.Validate("data");
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("data.max_connections must be positive") != std::string::npos);
  CHECK(s.message().find("data.max_connections_per_peer") != std::string::npos);
}
