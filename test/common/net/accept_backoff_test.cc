#include "common/net/accept_backoff.h"

#include <catch.hpp>

using namespace edgesplit::net;
using std::chrono::milliseconds;

TEST_CASE("waits longer after each failure of an episode, up to the maximum") {
  AcceptBackoff b({milliseconds(50), milliseconds(500)});
  std::vector<long> waits;
  for (int i = 0; i < 7; ++i) waits.push_back(std::chrono::duration_cast<milliseconds>(b.OnExhausted().wait).count());
  CHECK(waits == std::vector<long>{50, 100, 200, 400, 500, 500, 500});
}

TEST_CASE("logs once per episode: the first failure starts it, the next accept ends it") {
  AcceptBackoff b;
  CHECK(b.OnAccepted() == 0);  // no episode: nothing to report
  CHECK(b.OnExhausted().episode_start);
  CHECK_FALSE(b.OnExhausted().episode_start);
  CHECK_FALSE(b.OnExhausted().episode_start);
  CHECK(b.in_episode());
  CHECK(b.OnAccepted() == 3);
  CHECK_FALSE(b.in_episode());
  auto s = b.OnExhausted();  // a new episode starts from the minimum again
  CHECK(s.episode_start);
  CHECK(s.wait == milliseconds(50));
}

TEST_CASE("backoff options need 0 < min <= max") {
  CHECK(AcceptBackoffOptions{}.Validate().ok());
  CHECK_FALSE(AcceptBackoffOptions{milliseconds(0), milliseconds(10)}.Validate().ok());
  CHECK_FALSE(AcceptBackoffOptions{milliseconds(20), milliseconds(10)}.Validate().ok());
}
