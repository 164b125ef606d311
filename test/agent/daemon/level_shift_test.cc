// Measurement windows that follow a change of level (agent/daemon/level_shift.h) and the
// segment's layer-time window built on them.
#include <catch.hpp>

#include "agent/daemon/level_shift.h"
#include "agent/daemon/segment_table.h"

using namespace edgesplit::agent;

TEST_CASE("a level shift is the last runs all beyond the factor from the median before them") {
  std::deque<double> v = {10, 11, 9, 10, 12, 10};
  CHECK_FALSE(LevelShifted(v, 3, 1.5));
  v.push_back(40);
  v.push_back(41);
  CHECK_FALSE(LevelShifted(v, 3, 1.5));  // two slow runs are not yet a shift
  v.push_back(39);
  CHECK(LevelShifted(v, 3, 1.5));
  std::deque<double> noisy = {10, 11, 9, 10, 12, 10, 40, 10, 41};
  CHECK_FALSE(LevelShifted(noisy, 3, 1.5));  // an outlier among normal runs is noise
  std::deque<double> faster = {40, 41, 39, 40, 10, 11, 9};
  CHECK(LevelShifted(faster, 3, 1.5));
  CHECK_FALSE(LevelShifted({1, 2, 3}, 3, 1.5));  // too few runs to have a level before
}

TEST_CASE("the speed estimate follows a slowdown within the shift runs, not half a window") {
  SpeedEstimate s(4.0);
  CHECK(s.speed() == 0);  // not measured yet
  for (int i = 0; i < 9; ++i) s.Add(4.0 + 0.1 * (i % 3));
  CHECK(s.speed() == Approx(4.0 / 4.1).epsilon(0.01));
  s.Add(16.0);
  s.Add(16.2);
  CHECK(s.speed() > 0.9);  // two slow probes: still the old level
  s.Add(15.9);
  CHECK(s.speed() == Approx(4.0 / 16.0).epsilon(0.02));  // the window restarted from the slow probes
  s.Add(-1);  // not a measurement
  CHECK(s.median_ms() == Approx(16.0).epsilon(0.02));
}

TEST_CASE("a segment's layer times move to a new level within kShiftRuns runs") {
  SegmentSlot slot;
  slot.spec.first_layer = 0;
  slot.spec.end_layer = 2;
  for (int i = 0; i < 20; ++i) slot.RecordRun({1.0, 2.0});
  for (size_t i = 0; i + 1 < SegmentSlot::kShiftRuns; ++i) slot.RecordRun({4.0, 8.0});
  CHECK(slot.MedianLayerMs()[1] == Approx(2.0));
  slot.RecordRun({4.0, 8.0});
  CHECK(slot.recent_layer_ms.size() == SegmentSlot::kShiftRuns);
  CHECK(slot.MedianLayerMs()[0] == Approx(4.0));
  CHECK(slot.MedianLayerMs()[1] == Approx(8.0));
}

TEST_CASE("a link probe's bandwidth is the big round trip's extra time; unresolved probes teach nothing") {
  // 64 KiB in 0.5 ms more than the empty round trip: ~1 Gbit/s.
  CHECK(ProbeBandwidthMbps(65536, 0.2, 0.7) == Approx(65536 * 8.0 / 500));
  // A queue that drained between the two round trips (big faster than small), or a difference
  // lost in noise: 0, not 524 Gbit/s.
  CHECK(ProbeBandwidthMbps(65536, 3.0, 2.0) == 0);
  CHECK(ProbeBandwidthMbps(65536, 3.0, 3.0) == 0);
  CHECK(ProbeBandwidthMbps(65536, 3.0, 3.2) == 0);  // 0.2 ms of 3.2: under a tenth
  CHECK(ProbeBandwidthMbps(65536, 3.0, 3.4) > 0);   // 0.4 ms of 3.4: resolvable
  // A capped link: 64 KiB at 20 Mbit/s takes 26 ms beyond the round trip.
  CHECK(ProbeBandwidthMbps(65536, 5.0, 31.2) == Approx(20.0).epsilon(0.01));
}
