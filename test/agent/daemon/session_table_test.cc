#include "agent/daemon/session_table.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::agent;
using namespace std::chrono_literals;

namespace {
SessionLimits Limits() {
  SessionLimits l;
  l.max_sessions = 2;
  l.kv_budget_bytes = 1000;
  l.max_context = 50;
  l.idle_timeout = 100ms;
  return l;
}
const TimePoint t0{};
}  // namespace

TEST_CASE("a session reserves its whole context at position 0 and continues only where its cache ends") {
  SessionTable t(Limits());
  RefuseReason why{};
  auto s = t.Acquire({"d", 1, 7}, 0, 5, 20, 10, t0, &why);
  REQUIRE(s.ok());
  CHECK(t.reserved_bytes() == 200);
  CHECK((*s)->busy);
  // A second step while the first runs is refused (one step at a time per session).
  CHECK(t.Acquire({"d", 1, 7}, 0, 5, 20, 10, t0, &why).status().code() == StatusCode::kFailedPrecondition);
  t.StepDone({"d", 1, 7}, 5, t0);
  CHECK(t.Acquire({"d", 1, 7}, 4, 1, 20, 10, t0, &why).status().code() == StatusCode::kFailedPrecondition);
  CHECK(why == RefuseReason::kBadPosition);
  REQUIRE(t.Acquire({"d", 1, 7}, 5, 1, 20, 10, t0, &why).ok());
  t.StepDone({"d", 1, 7}, 6, t0);
  // Past the reserved capacity.
  CHECK(t.Acquire({"d", 1, 7}, 6, 15, 20, 10, t0, &why).status().code() == StatusCode::kFailedPrecondition);
  // A later position of an unknown session: the state is gone (reclaimed or never here).
  CHECK(t.Acquire({"d", 1, 8}, 3, 1, 20, 10, t0, &why).status().code() == StatusCode::kFailedPrecondition);
  CHECK(why == RefuseReason::kUnknownSession);
  CHECK(t.Release({"d", 1, 7}));
  CHECK_FALSE(t.Release({"d", 1, 7}));
  CHECK(t.reserved_bytes() == 0);
}

TEST_CASE("sessions beyond the count, the KV budget or the context are refused with resource_exhausted") {
  SessionTable t(Limits());
  RefuseReason why{};
  auto ctx = t.Acquire({"d", 1, 1}, 0, 1, 51, 1, t0, &why);
  CHECK(ctx.status().code() == StatusCode::kResourceExhausted);
  CHECK(why == RefuseReason::kContext);
  REQUIRE(t.Acquire({"d", 1, 1}, 0, 1, 40, 20, t0, &why).ok());  // 800 of 1000 bytes
  auto kv = t.Acquire({"d", 1, 2}, 0, 1, 20, 20, t0, &why);        // 400 more: over budget
  CHECK(kv.status().code() == StatusCode::kResourceExhausted);
  CHECK(why == RefuseReason::kKvMemory);
  CHECK(kv.status().message().find("kv_budget_bytes 1000") != std::string::npos);
  REQUIRE(t.Acquire({"d", 1, 2}, 0, 1, 10, 20, t0, &why).ok());
  auto many = t.Acquire({"d", 2, 3}, 0, 1, 1, 1, t0, &why);
  CHECK(many.status().code() == StatusCode::kResourceExhausted);
  CHECK(why == RefuseReason::kSessions);
  CHECK(t.count() == 2);
  CHECK(t.reserved_bytes() == 1000);
}

TEST_CASE("idle sessions are listed for reclaim, never one whose step is running; an unloaded epoch frees its sessions") {
  SessionTable t(Limits());
  RefuseReason why{};
  REQUIRE(t.Acquire({"d", 1, 1}, 0, 1, 10, 1, t0, &why).ok());
  REQUIRE(t.Acquire({"d", 2, 2}, 0, 1, 10, 1, t0, &why).ok());
  t.StepDone({"d", 1, 1}, 1, t0);
  CHECK(t.Idle(t0 + 50ms).empty());
  auto idle = t.Idle(t0 + 150ms);
  REQUIRE(idle.size() == 1);  // session 2 is busy
  CHECK(idle[0].session == 1);
  CHECK(t.ReleaseEpoch("d", 2) == 1);
  CHECK(t.count() == 1);
  CHECK(t.reserved_bytes() == 10);
}

TEST_CASE("a carried session is reserved by its first KV or its step, and counts what each layer received") {
  SessionTable t(Limits());
  RefuseReason why{};
  auto s = t.AcquireCarried({"d", 2, 7}, 20, 10, t0, &why);
  REQUIRE(s.ok());
  CHECK((*s)->carrying);
  CHECK_FALSE((*s)->busy);
  CHECK(t.reserved_bytes() == 200);
  // Whichever comes second finds the same session.
  CHECK(*t.AcquireCarried({"d", 2, 7}, 20, 10, t0, &why) == *s);
  CHECK(t.reserved_bytes() == 200);
  CHECK((*s)->ReceivedUpTo({1, 2}) == 0);
  (*s)->received[1] = 12;
  CHECK((*s)->ReceivedUpTo({1, 2}) == 0);
  (*s)->received[2] = 9;
  CHECK((*s)->ReceivedUpTo({1, 2}) == 9);
  CHECK((*s)->ReceivedUpTo({}) == std::numeric_limits<int64_t>::max());  // no stateful layer waits
  // Settled at position 9, it continues there like any session.
  (*s)->carrying = false;
  (*s)->next_position = 9;
  REQUIRE(t.Acquire({"d", 2, 7}, 9, 1, 20, 10, t0, &why).ok());
  // The same limits as a first step: the count, the budget, the context.
  CHECK(t.AcquireCarried({"d", 2, 8}, 90, 10, t0, &why).status().code() == StatusCode::kResourceExhausted);
  CHECK(why == RefuseReason::kContext);  // 90 tokens > max_context 50
  REQUIRE(t.AcquireCarried({"d", 2, 8}, 20, 10, t0, &why).ok());
  CHECK(t.AcquireCarried({"d", 2, 9}, 20, 10, t0, &why).status().code() == StatusCode::kResourceExhausted);
  CHECK(why == RefuseReason::kSessions);
}
