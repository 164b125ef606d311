// Measurement windows that follow a change of level quickly. A node that gets slower or faster
// (thermal throttling, a co-tenant, a fault) must show it in its reported figures within a few
// samples, not after half a median window; nothing tells the agent that it happened.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>

#include "agent/transport/kernel_send_state.h"

namespace edgesplit::agent {

// True when each of the last `recent` values of `v` is more than `factor` times the median of
// the values before them, or each is less than that median divided by `factor`. Needs at least
// `recent` earlier values; false otherwise.
bool LevelShifted(const std::deque<double>& v, size_t recent, double factor);

// The node's compute speed from the times of a fixed probe workload (agent/runtime/
// compute_probe.h): nominal / median of the last kWindow probes, the window restarting from the
// newest kShiftRuns probes on a level shift.
class SpeedEstimate {
 public:
  static constexpr size_t kWindow = 9;
  static constexpr size_t kShiftRuns = 3;
  static constexpr double kShiftFactor = 1.5;
  explicit SpeedEstimate(double nominal_ms) : nominal_ms_(nominal_ms) {}
  void Add(double probe_ms);
  double median_ms() const;  // 0 before the first probe
  double speed() const;      // 0 before the first probe (not measured)

 private:
  double nominal_ms_;
  std::deque<double> ms_;
};

// A link's bandwidth from the transfers that flow on it: each frame of at least kMinBytes gives
// one reading (FrameLinkMbps below: the send path, or the kernel's acknowledged bytes while a
// backlog stays). The median of the last kWindow readings, the window restarting from the
// newest kShiftRuns on a level shift, so a capped link reads as capped within a few frames, and
// a noisy single stall (the sender descheduled) moves nothing.
class TrafficRate {
 public:
  static constexpr size_t kMinBytes = 16 * 1024;
  static constexpr size_t kWindow = 7;
  static constexpr size_t kShiftRuns = 3;
  static constexpr double kShiftFactor = 2.0;
  // A frame's reading as FrameLinkMbps gives it (the caller checked kMinBytes). False when not positive.
  bool AddMbps(double mbps);
  double mbps() const;  // 0 before the first counted frame

 private:
  std::deque<double> mbps_;
};

// One frame's reading of its link's bandwidth: bytes / time in the send path, or lower when the
// kernel shows the link is what limits. `before` and `after`: the connection's kernel readings
// after the previous frame's write and after this one's, `since_before_s` apart. The send path
// alone ends when the socket's buffer has taken the frame, so a capped link reads as fast until
// that buffer is full. If fewer bytes were acknowledged since `before` than were outstanding at
// `before`, the link was busy all that time and carried acked / since_before_s: the link's rate
// (or the receiver's, when a peer stops reading: either way what this connection delivers).
// When the backlog drained, the link may have idled part of the interval: no kernel reading.
// Nothing acknowledged at all reads as 0.001 Mbit/s.
double FrameLinkMbps(size_t bytes, double seconds, const std::optional<transport::KernelSendState>& before,
                     const std::optional<transport::KernelSendState>& after, double since_before_s);

// A link probe's bandwidth from a small and a big round trip (the big one carrying `bytes`):
// bytes / (big - small). 0 ("nothing learned") when that difference is under a tenth of the big
// round trip: lost in scheduling noise or in a queue that drained between the two, it would read
// as anything up to absurd (64 KiB in 1 us: 524 Gbit/s) and, being the newest, hide a real cap.
double ProbeBandwidthMbps(double bytes, double small_rtt_ms, double big_rtt_ms);

}  // namespace edgesplit::agent
