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

TEST_CASE("a frame's link reading: the send path, or the acknowledged bytes while a backlog stays") {
  using edgesplit::transport::KernelSendState;
  const size_t bytes = 50000;  // 400 kbit
  // No kernel view, or no backlog at the previous reading: bytes over time in the send path.
  CHECK(FrameLinkMbps(bytes, 0.001, std::nullopt, std::nullopt, 0.1) == Approx(400));
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{0, 1000}, KernelSendState{40000, 1000}, 0.1) == Approx(400));
  // The backlog of 40 kB drained within the interval: the link may have idled, the send path stands.
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{40000, 1000}, KernelSendState{50000, 41000}, 0.1) == Approx(400));
  // A capped link: the write returned at once (the socket's buffer took it) but of the 40 kB
  // outstanding only 37.5 kB were acknowledged in 100 ms: 3 Mbit/s.
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{40000, 1000}, KernelSendState{52500, 38500}, 0.1) == Approx(3.0));
  // Nothing acknowledged behind a backlog reads as the floor, 1 kbit/s, not as no reading.
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{40000, 1000}, KernelSendState{90000, 1000}, 0.1) == Approx(0.001));
  TrafficRate r;
  CHECK_FALSE(r.AddMbps(0));
  CHECK(r.AddMbps(0.001));
  // The lower of the two: a slow send path (egress emulation) is not raised by the kernel's figure.
  CHECK(FrameLinkMbps(bytes, 1.0, KernelSendState{40000, 1000}, KernelSendState{52500, 38500}, 0.1) == Approx(0.4));
  // A counter that went backwards (a new connection) or no time: the send path.
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{40000, 9000}, KernelSendState{1000, 10}, 0.1) == Approx(400));
  CHECK(FrameLinkMbps(bytes, 0.001, KernelSendState{40000, 1000}, KernelSendState{52500, 38500}, 0) == Approx(400));
  CHECK(FrameLinkMbps(bytes, 0, std::nullopt, std::nullopt, 0.1) == 0);
}
