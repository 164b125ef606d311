#include "orchestrator/rollout/rollout.h"

#include <algorithm>

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::orch;
using namespace std::chrono_literals;

namespace {
RolloutSpec Spec() {
  RolloutSpec s;
  s.deployment = "d";
  s.model = "m";
  s.num_layers = 8;
  s.from_epoch = 1;
  s.from = {{"a", "A", 0, 4}, {"b", "B", 4, 8}};
  s.to_epoch = 2;
  s.to = {{"a", "A", 0, 5}, {"c", "C", 5, 8}};
  return s;
}
std::vector<AgentCommand> AckAll(Rollout& r, const std::vector<AgentCommand>& cmds, TimePoint now) {
  std::vector<AgentCommand> out;
  for (const auto& c : cmds) {
    auto more = r.OnAck(c.id, true, "", now);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}
bool Any(const std::vector<AgentCommand>& cmds, CommandKind k, const std::string& node, uint64_t epoch) {
  return std::any_of(cmds.begin(), cmds.end(),
                     [&](const AgentCommand& c) { return c.kind == k && c.node == node && c.epoch == epoch; });
}
}  // namespace

TEST_CASE("loads the new epoch next to the old one and unloads the old only after commit and drain") {
  FakeClock clock;
  CommandIds ids;
  RolloutOptions o;
  o.drain_grace = 100ms;
  Rollout r(Spec(), o, &ids);
  auto loads = r.Start(clock.Now());
  REQUIRE(loads.size() == 2);
  CHECK(loads[0].is_entry);
  CHECK(loads[0].downstream_address == "C");
  CHECK(loads[1].downstream_address.empty());
  CHECK(loads[1].entry_address == "A");
  CHECK(loads[1].num_layers == 8);
  // One ready ack is not enough.
  CHECK(r.OnAck(loads[0].id, true, "", clock.Now()).empty());
  CHECK(r.phase() == RolloutPhase::kPreparing);
  auto activate = r.OnAck(loads[1].id, true, "", clock.Now());
  REQUIRE(activate.size() == 1);
  CHECK(activate[0].kind == CommandKind::kActivate);
  CHECK(activate[0].node == "a");
  CHECK(activate[0].epoch == 2);
  CHECK(!r.committed());
  auto drains = r.OnAck(activate[0].id, true, "", clock.Now());
  CHECK(r.committed());
  // Drains go in pipeline order: b only after a has no in-flight work left.
  REQUIRE(drains.size() == 1);
  CHECK(Any(drains, CommandKind::kDrain, "a", 1));
  auto drain_b = r.OnAck(drains[0].id, true, "", clock.Now());
  REQUIRE(drain_b.size() == 1);
  CHECK(Any(drain_b, CommandKind::kDrain, "b", 1));
  CHECK(AckAll(r, drain_b, clock.Now()).empty());  // waits for the grace
  CHECK(r.Tick(clock.Now()).empty());
  clock.Advance(150ms);
  auto unloads = r.Tick(clock.Now());
  CHECK(Any(unloads, CommandKind::kUnload, "a", 1));
  CHECK(Any(unloads, CommandKind::kUnload, "b", 1));
  CHECK(!Any(unloads, CommandKind::kUnload, "c", 2));
  AckAll(r, unloads, clock.Now());
  CHECK(r.phase() == RolloutPhase::kDone);
}

TEST_CASE("a failed load aborts before commit and unloads only the new epoch") {
  FakeClock clock;
  CommandIds ids;
  Rollout r(Spec(), {}, &ids);
  auto loads = r.Start(clock.Now());
  auto out = r.OnAck(loads[1].id, false, "out of memory", clock.Now());
  CHECK(r.phase() == RolloutPhase::kAborted);
  CHECK(!r.committed());
  CHECK(r.abort_reason().find("out of memory") != std::string::npos);
  CHECK(Any(out, CommandKind::kUnload, "a", 2));
  CHECK(Any(out, CommandKind::kUnload, "c", 2));
  for (const auto& c : out) CHECK(c.epoch == 2);
}

TEST_CASE("prepare timeout aborts; a failed activate aborts") {
  FakeClock clock;
  CommandIds ids;
  RolloutOptions o;
  o.prepare_timeout = 1s;
  Rollout r(Spec(), o, &ids);
  r.Start(clock.Now());
  clock.Advance(2s);
  auto out = r.Tick(clock.Now());
  CHECK(r.phase() == RolloutPhase::kAborted);
  CHECK(out.size() == 2);

  Rollout r2(Spec(), o, &ids);
  auto loads = r2.Start(clock.Now());
  auto act = AckAll(r2, loads, clock.Now());
  REQUIRE(act.size() == 1);
  r2.OnAck(act[0].id, false, "no such epoch", clock.Now());
  CHECK(r2.phase() == RolloutPhase::kAborted);
}

TEST_CASE("losing a new-plan node before commit aborts; losing an old node does not") {
  FakeClock clock;
  CommandIds ids;
  Rollout r(Spec(), {}, &ids);
  r.Start(clock.Now());
  CHECK(r.OnNodeLost("b", clock.Now()).empty());
  CHECK(r.phase() == RolloutPhase::kPreparing);
  auto out = r.OnNodeLost("c", clock.Now());
  CHECK(r.phase() == RolloutPhase::kAborted);
  CHECK(Any(out, CommandKind::kUnload, "a", 2));
  CHECK(!Any(out, CommandKind::kUnload, "c", 2));
}

TEST_CASE("after commit a lost old node is skipped and the rollout completes") {
  FakeClock clock;
  CommandIds ids;
  RolloutOptions o;
  o.drain_grace = 0ms;
  Rollout r(Spec(), o, &ids);
  auto act = AckAll(r, r.Start(clock.Now()), clock.Now());
  auto drains = r.OnAck(act[0].id, true, "", clock.Now());
  REQUIRE(drains.size() == 1);
  r.OnNodeLost("b", clock.Now());
  auto unloads = r.OnAck(drains[0].id, true, "", clock.Now());  // drain on a; b is skipped
  CHECK(Any(unloads, CommandKind::kUnload, "a", 1));
  CHECK(!Any(unloads, CommandKind::kUnload, "b", 1));
  AckAll(r, unloads, clock.Now());
  CHECK(r.phase() == RolloutPhase::kDone);
  CHECK(!r.Abort("late", clock.Now()).ok());
}

TEST_CASE("an initial placement has nothing to drain") {
  FakeClock clock;
  CommandIds ids;
  RolloutSpec s = Spec();
  s.from_epoch = 0;
  s.from.clear();
  Rollout r(s, {}, &ids);
  auto act = AckAll(r, r.Start(clock.Now()), clock.Now());
  REQUIRE(act.size() == 1);
  CHECK(r.OnAck(act[0].id, true, "", clock.Now()).empty());
  CHECK(r.phase() == RolloutPhase::kDone);
  CHECK(r.committed());
}

TEST_CASE("acks of unknown or repeated commands are ignored") {
  FakeClock clock;
  CommandIds ids;
  Rollout r(Spec(), {}, &ids);
  auto loads = r.Start(clock.Now());
  CHECK(r.OnAck(9999, false, "x", clock.Now()).empty());
  r.OnAck(loads[0].id, true, "", clock.Now());
  CHECK(r.OnAck(loads[0].id, false, "dup", clock.Now()).empty());
  CHECK(r.phase() == RolloutPhase::kPreparing);
}
