#include "agent/transport/token_bucket.h"

#include <catch.hpp>

using namespace edgesplit;
using namespace edgesplit::transport;
using namespace std::chrono_literals;

TEST_CASE("an unlimited bucket never delays") {
  TokenBucket b(0, 0);
  CHECK(b.Reserve(1 << 30, TimePoint(1s)) == Duration::zero());
}

TEST_CASE("the bucket lets a burst through, then paces at the rate") {
  TokenBucket b(1000.0, 500.0);  // 1000 B/s, 500 B burst
  TimePoint t(10s);
  CHECK(b.Reserve(500, t) == Duration::zero());
  // 1000 more bytes with an empty bucket: one second of debt.
  CHECK(ToMillis(b.Reserve(1000, t)) == Approx(1000.0));
  // After the debt is paid (1 s later) and 0.5 s more, 500 bytes are free again.
  CHECK(b.Reserve(500, t + 1500ms) == Duration::zero());
}

TEST_CASE("idle time refills at most the burst") {
  TokenBucket b(1000.0, 100.0);
  TimePoint t(10s);
  b.Reserve(100, t);
  CHECK(ToMillis(b.Reserve(300, t + 100s)) == Approx(200.0));
}

TEST_CASE("the rate can change at runtime: capped, re-capped and uncapped") {
  TokenBucket b(0, 0);
  TimePoint t(10s);
  CHECK(b.Reserve(1 << 20, t) == Duration::zero());
  b.SetRate(1000.0, 500.0);  // from unlimited: a full burst, then the new rate
  CHECK(b.Reserve(500, t) == Duration::zero());
  CHECK(ToMillis(b.Reserve(1000, t)) == Approx(1000.0));
  b.SetRate(2000.0, 500.0);  // the debt is kept and paid at the new rate
  CHECK(ToMillis(b.Reserve(1000, t)) == Approx(1000.0));  // 2000 B of debt at 2000 B/s
  b.SetRate(0, 0);
  CHECK(b.Reserve(1 << 30, t) == Duration::zero());
}
