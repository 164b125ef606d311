#include "orchestrator/cluster/node_registry.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;

namespace {
RegisterInfo Info(const std::string& name, uint64_t inc = 1) {
  RegisterInfo r;
  r.node = name;
  r.data_address = "127.0.0.1:1";
  r.incarnation = inc;
  return r;
}
}  // namespace

TEST_CASE("a node missing heartbeats becomes suspect, then dead") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a"), clock.Now(), nullptr).ok());
  clock.Advance(500ms);
  REQUIRE(reg.Tick(clock.Now()).empty());
  clock.Advance(300ms);
  auto t = reg.Tick(clock.Now());
  REQUIRE(t.size() == 1);
  CHECK(t[0].to == NodeState::kSuspect);
  clock.Advance(800ms);
  t = reg.Tick(clock.Now());
  REQUIRE(t.size() == 1);
  CHECK(t[0].to == NodeState::kDead);
  CHECK(t[0].reason == "missed_heartbeats");
  CHECK(reg.AliveNodes().empty());
}

TEST_CASE("a heartbeat brings a suspect node back to alive") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a"), clock.Now(), nullptr).ok());
  clock.Advance(800ms);
  reg.Tick(clock.Now());
  CHECK(reg.Find("a")->state == NodeState::kSuspect);
  std::vector<NodeTransition> t;
  REQUIRE(reg.Heartbeat("a", 1, {}, clock.Now(), &t).ok());
  CHECK(reg.Find("a")->state == NodeState::kAlive);
  REQUIRE(t.size() == 1);
}

TEST_CASE("a dropped connection makes a node dead after the grace unless it reconnects") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a"), clock.Now(), nullptr).ok());
  REQUIRE(reg.Register(Info("b"), clock.Now(), nullptr).ok());
  reg.Disconnected("a", clock.Now(), nullptr);
  reg.Disconnected("b", clock.Now(), nullptr);
  CHECK(reg.Find("a")->state == NodeState::kSuspect);
  clock.Advance(100ms);
  auto k = reg.Register(Info("b"), clock.Now(), nullptr);
  REQUIRE(k.ok());
  CHECK(*k == RegisterKind::kReconnected);
  clock.Advance(250ms);
  auto t = reg.Tick(clock.Now());
  REQUIRE(t.size() == 1);
  CHECK(t[0].node == "a");
  CHECK(t[0].to == NodeState::kDead);
  CHECK(reg.Find("b")->state == NodeState::kAlive);
}

TEST_CASE("a dead node rejects heartbeats until it registers again (rejoin)") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a"), clock.Now(), nullptr).ok());
  clock.Advance(2s);
  reg.Tick(clock.Now());
  CHECK(reg.Heartbeat("a", 2, {}, clock.Now(), nullptr).code() == StatusCode::kFailedPrecondition);
  auto k = reg.Register(Info("a", 2), clock.Now(), nullptr);
  REQUIRE(k.ok());
  CHECK(*k == RegisterKind::kRejoined);
  CHECK(reg.Find("a")->state == NodeState::kAlive);
}

TEST_CASE("a new incarnation is reported as a restart") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a", 1), clock.Now(), nullptr).ok());
  auto k = reg.Register(Info("a", 7), clock.Now(), nullptr);
  REQUIRE(k.ok());
  CHECK(*k == RegisterKind::kRestarted);
}

TEST_CASE("an older profile version never replaces a newer one") {
  FakeClock clock;
  NodeRegistry reg;
  REQUIRE(reg.Register(Info("a"), clock.Now(), nullptr).ok());
  CapacityReport p;
  p.version = 5;
  p.cores = 8;
  REQUIRE(reg.Heartbeat("a", 1, p, clock.Now(), nullptr).ok());
  p.version = 4;
  p.cores = 2;
  REQUIRE(reg.Heartbeat("a", 2, p, clock.Now(), nullptr).ok());
  CHECK(reg.Find("a")->profile.cores == 8);
}

TEST_CASE("registration rejects bad input and unknown heartbeats") {
  FakeClock clock;
  NodeRegistry reg;
  RegisterInfo r = Info("");
  CHECK(reg.Register(r, clock.Now(), nullptr).status().code() == StatusCode::kInvalidArgument);
  CHECK(reg.Heartbeat("zzz", 1, {}, clock.Now(), nullptr).code() == StatusCode::kNotFound);
  NodeRegistryOptions o;
  o.dead_after = o.suspect_after;
  CHECK(!o.Validate().ok());
}
