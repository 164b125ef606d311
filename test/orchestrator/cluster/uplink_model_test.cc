// Attributing a slow link to the node's uplink or to one pair (orchestrator/cluster/uplink_model.h),
// and the registry keeping that evidence across heartbeats.
#include <catch.hpp>

#include "orchestrator/cluster/node_registry.h"
#include "orchestrator/cluster/uplink_model.h"

using namespace edgesplit;
using namespace edgesplit::orch;

namespace {
LinkReport L(const char* peer, double mbps, int64_t at, std::string error = "") {
  LinkReport r;
  r.peer = peer;
  r.bandwidth_mbps = mbps;
  r.measured_unix_ms = at;
  r.error = std::move(error);
  return r;
}
}  // namespace

TEST_CASE("a drop of one link out of a node is presumed its uplink until another link shows better") {
  std::vector<LinkReport> before = {L("a", 800, 100), L("b", 900, 100)};
  // a drops to 2 Mbps (traffic): the uplink is presumed capped at 2.
  std::vector<LinkReport> after = {L("a", 2, 200), L("b", 900, 100)};
  UplinkCap cap = UpdateUplinkCap({}, before, after);
  CHECK(cap.mbps == 2);
  CHECK(cap.since_unix_ms == 200);
  // b's figure is older than the drop: it says nothing about the uplink now.
  CHECK(UpdateUplinkCap(cap, after, after).mbps == 2);
  // A probe of b after the drop, slow too: consistent with the uplink (it is a drop of b as well).
  std::vector<LinkReport> b_slow = {L("a", 2, 200), L("b", 2.5, 300)};
  cap = UpdateUplinkCap(cap, after, b_slow);
  CHECK(cap.mbps == 2.5);
  // The cap lifted: a newer probe of either link shows more than twice the cap -> no uplink limit.
  std::vector<LinkReport> restored = {L("a", 2, 200), L("b", 600, 400)};
  CHECK(UpdateUplinkCap(cap, b_slow, restored).mbps == 0);
}

TEST_CASE("a slow pair whose sibling link stays fast is the pair, not the uplink") {
  std::vector<LinkReport> before = {L("a", 800, 100), L("b", 900, 100)};
  // In one heartbeat: a dropped, and b was measured fast after that drop.
  std::vector<LinkReport> after = {L("a", 3, 200), L("b", 850, 250)};
  CHECK(UpdateUplinkCap({}, before, after).mbps == 0);
  // Noise: a 40 % dip is no drop; a failed probe is no measurement.
  CHECK(UpdateUplinkCap({}, before, {L("a", 500, 200), L("b", 0, 200, "unavailable: refused")}).mbps == 0);
  // The first measurement of a peer is no drop either (nothing to compare with).
  CHECK(UpdateUplinkCap({}, {}, {L("a", 1, 200)}).mbps == 0);
}

TEST_CASE("the registry keeps a node's uplink evidence across heartbeats and forgets it on re-registration") {
  NodeRegistryOptions o;
  NodeRegistry reg(o);
  RegisterInfo info;
  info.node = "n1";
  info.data_address = "127.0.0.1:1";
  info.incarnation = 1;
  const TimePoint t0{};
  REQUIRE(reg.Register(info, t0, nullptr).ok());
  CapacityReport p;
  p.version = 1;
  p.links = {L("a", 800, 100), L("b", 900, 100)};
  REQUIRE(reg.Heartbeat("n1", 1, p, t0, nullptr).ok());
  p.version = 2;
  p.links = {L("a", 2, 200), L("b", 900, 100)};
  REQUIRE(reg.Heartbeat("n1", 2, p, t0, nullptr).ok());
  CHECK(reg.Find("n1")->uplink_cap_mbps == 2);
  p.version = 3;  // a heartbeat with nothing new keeps it
  REQUIRE(reg.Heartbeat("n1", 3, p, t0, nullptr).ok());
  CHECK(reg.Find("n1")->uplink_cap_mbps == 2);
  info.incarnation = 2;  // restarted
  REQUIRE(reg.Register(info, t0, nullptr).ok());
  CHECK(reg.Find("n1")->uplink_cap_mbps == 0);
}
