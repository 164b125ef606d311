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
  // 2 sessions, 500 history tokens in all: 500 kB of b2's KV, 50 ms over the link plus 1 ms.
  const SessionMove m = PriceSessionMove(in, now, next, 2, 500, 300);
  CHECK(m.kv_bytes == 1000 * 500);
  CHECK(m.copy_ms == Approx(1.0 + 500000.0 * 8 / 80e3));
  // Each session feels only its tail: kTailTokens positions of b2 (2 kB, 0.2 ms) and the latency.
  CHECK(m.copy_stall_ms == Approx(2 * (1.0 + kTailTokens * 1000 * 8 / 80e3)));
  CHECK(m.copy);  // 2.4 ms of stall against a 300 ms rebuild
  CHECK(m.ms() == Approx(m.copy_ms + m.copy_stall_ms));
  CHECK(m.stall_ms() == m.copy_stall_ms);
  CHECK(std::string(m.name()) == "copy");
  // Nothing stateful moves: free.
  const SessionMove same = PriceSessionMove(in, now, {{"e", 0, 1}, {"x", 1, 3}, {"x", 3, 4}}, 2, 500, 10);
  CHECK(same.kv_bytes == 0);
  CHECK(same.ms() == 0);
  CHECK(same.copy);
}

TEST_CASE("a copy that would outlast the agents' wait, another entry or no history rebuilds") {
  const std::vector<planner::Stage> now = {{"e", 0, 1}, {"x", 1, 4}};
  const std::vector<planner::Stage> next = {{"e", 0, 1}, {"y", 1, 4}};
  // 2 MB at 1 Mbps: 16 s of pre-copy, beyond kKvCopyMaxMs, although each tail would be quick.
  const SessionMove slow = PriceSessionMove(Inst(1), now, next, 3, 1000, 300);
  CHECK(slow.kv_bytes == 2e6);
  CHECK(slow.copy_ms > kKvCopyMaxMs);
  CHECK(slow.copy_stall_ms < 300);
  CHECK_FALSE(slow.copy);
  CHECK(slow.ms() == 300);
  CHECK(std::string(slow.name()) == "rebuild");
  // The same sessions over 1 Gbps: 16 ms of pre-copy.
  const SessionMove fast = PriceSessionMove(Inst(1000), now, next, 3, 1000, 300);
  CHECK(fast.copy);
  CHECK(fast.ms() < 300);
  // A rebuild that stalls less than the tails (a tiny history on a slow link) wins.
  CHECK_FALSE(PriceSessionMove(Inst(1000), now, next, 3, 1000, 0.5).copy);
  const SessionMove other_entry = PriceSessionMove(Inst(1000), now, {{"x", 0, 1}, {"y", 1, 4}}, 3, 1000, 300);
  CHECK_FALSE(other_entry.copy);
  CHECK(std::isinf(other_entry.copy_ms));
  CHECK_FALSE(PriceSessionMove(Inst(1000), now, next, 0, 0, 300).copy);
}
