#include "agent/daemon/level_shift.h"

#include <algorithm>
#include <vector>

namespace edgesplit::agent {

namespace {
double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
  return v[v.size() / 2];
}
}  // namespace

bool LevelShifted(const std::deque<double>& v, size_t recent, double factor) {
  if (recent == 0 || v.size() < 2 * recent) return false;
  const auto split = v.end() - static_cast<long>(recent);
  const double m = Median(std::vector<double>(v.begin(), split));
  if (!(m > 0)) return false;
  const bool up = std::all_of(split, v.end(), [&](double x) { return x > m * factor; });
  const bool down = std::all_of(split, v.end(), [&](double x) { return x < m / factor; });
  return up || down;
}

void SpeedEstimate::Add(double probe_ms) {
  if (!(probe_ms > 0)) return;
  ms_.push_back(probe_ms);
  if (ms_.size() > kWindow) ms_.pop_front();
  if (LevelShifted(ms_, kShiftRuns, kShiftFactor)) ms_.erase(ms_.begin(), ms_.end() - static_cast<long>(kShiftRuns));
}

double SpeedEstimate::median_ms() const { return Median(std::vector<double>(ms_.begin(), ms_.end())); }

double SpeedEstimate::speed() const {
  const double m = median_ms();
  return m > 0 ? nominal_ms_ / m : 0.0;
}

bool TrafficRate::AddMbps(double mbps) {
  if (!(mbps > 0)) return false;
  mbps_.push_back(mbps);
  if (mbps_.size() > kWindow) mbps_.pop_front();
  if (LevelShifted(mbps_, kShiftRuns, kShiftFactor)) mbps_.erase(mbps_.begin(), mbps_.end() - static_cast<long>(kShiftRuns));
  return true;
}

double TrafficRate::mbps() const { return Median(std::vector<double>(mbps_.begin(), mbps_.end())); }

double FrameLinkMbps(size_t bytes, double seconds, const std::optional<transport::KernelSendState>& before,
                     const std::optional<transport::KernelSendState>& after, double since_before_s) {
  if (!(seconds > 0)) return 0;
  const double send_mbps = static_cast<double>(bytes) * 8.0 / seconds / 1e6;
  if (!before || !after || !(since_before_s > 0) || before->unacked_bytes == 0 ||
      after->bytes_acked < before->bytes_acked)
    return send_mbps;
  const uint64_t acked = after->bytes_acked - before->bytes_acked;
  if (acked >= before->unacked_bytes) return send_mbps;  // the backlog drained: the link may have idled
  // Nothing acknowledged with a backlog outstanding (a shaper's queue overflowed and the sender
  // waits out a retransmission timeout) still reads, as 1 kbit/s: in the netns demo the first
  // frames after a 3 Mbit/s cap saw no acknowledgement for 0.3-0.6 s, and reading them as
  // nothing cost that long again in detection. One such frame moves no median; a stopped peer's
  // full window or a dead one ends in the failure detector's verdict, which replans anyway.
  return std::min(send_mbps, std::max(0.001, static_cast<double>(acked) * 8.0 / since_before_s / 1e6));
}

double ProbeBandwidthMbps(double bytes, double small_rtt_ms, double big_rtt_ms) {
  const double transfer_ms = big_rtt_ms - small_rtt_ms;
  if (!(transfer_ms > 0) || transfer_ms < 0.1 * big_rtt_ms) return 0;
  return bytes * 8.0 / (transfer_ms * 1e3);
}

}  // namespace edgesplit::agent
