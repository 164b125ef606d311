// Pricing how live sessions move to a candidate plan: copying the KV of the layers that change
// node over the measured links, or rebuilding it by a prefill; the cheaper one is chosen.
#include "orchestrator/controller/session_move.h"

#include <catch.hpp>
#include <cmath>

using namespace edgesplit;
using namespace edgesplit::orch;
using planner::LinkSpec;
using planner::PlanningInstance;

namespace {
// Four layers: embedding (no state), two blocks of 1000 state bytes per token, head (no state).
PlanningInstance Inst(double mbps) {
  PlanningInstance in;
  in.model.input_bytes = 100;
  in.model.layers = {{"emb", 1, 10, 100, 0}, {"b1", 5, 10, 100, 1000}, {"b2", 5, 10, 100, 1000}, {"head", 1, 10, 100, 0}};
  in.nodes = {{"e", 1.0, 1e9, true, {}}, {"x", 1.0, 1e9, false, {}}, {"y", 1.0, 1e9, false, {}}};
  in.links.default_link = LinkSpec{mbps, 1.0};
  in.source = "e";
  return in;
}
}  // namespace

TEST_CASE("a move copies only the KV of layers that change node, priced over their links") {
  const PlanningInstance in = Inst(80);  // 80 Mbps: 10 bytes per microsecond
  // b2 moves from x to y; b1 stays on x; emb and head keep no state.
  const std::vector<planner::Stage> now = {{"e", 0, 1}, {"x", 1, 3}, {"y", 3, 4}};
  const std::vector<planner::Stage> next = {{"e", 0, 1}, {"x", 1, 2}, {"y", 2, 4}};
  const SessionMove m = PriceSessionMove(in, now, next, 500, 1e9);
  CHECK(m.kv_bytes == 1000 * 500);
  CHECK(m.copy_ms == Approx(1.0 + 500000.0 * 8 / 80e3));  // latency + 50 ms
  CHECK(m.copy);
  CHECK(m.ms() == m.copy_ms);
  CHECK(std::string(m.name()) == "copy");
  // Nothing stateful moves: free.
  const SessionMove same = PriceSessionMove(in, now, {{"e", 0, 1}, {"x", 1, 3}, {"x", 3, 4}}, 500, 10);
  CHECK(same.kv_bytes == 0);
  CHECK(same.copy_ms == 0);
  CHECK(same.copy);
}

TEST_CASE("a slow link makes the rebuild cheaper; another entry or no history cannot copy") {
  const std::vector<planner::Stage> now = {{"e", 0, 1}, {"x", 1, 4}};
  const std::vector<planner::Stage> next = {{"e", 0, 1}, {"y", 1, 4}};
  const SessionMove slow = PriceSessionMove(Inst(0.1), now, next, 1000, 300);  // 2 MB at 0.1 Mbps: 160 s
  CHECK(slow.kv_bytes == 2e6);
  CHECK_FALSE(slow.copy);
  CHECK(slow.ms() == 300);
  CHECK(std::string(slow.name()) == "rebuild");
  const SessionMove fast = PriceSessionMove(Inst(1000), now, next, 1000, 300);  // 16 ms
  CHECK(fast.copy);
  CHECK(fast.ms() < 300);
  const SessionMove other_entry = PriceSessionMove(Inst(1000), now, {{"x", 0, 1}, {"y", 1, 4}}, 1000, 300);
  CHECK_FALSE(other_entry.copy);
  CHECK(std::isinf(other_entry.copy_ms));
  CHECK_FALSE(PriceSessionMove(Inst(1000), now, next, 0, 300).copy);
}
