// Token bucket for the emulated egress cap (pure: the caller passes the time).
// Not thread-safe: one per sender, used on its io thread.
#pragma once

#include <cstddef>

#include "common/base/clock.h"

namespace edgesplit::transport {

class TokenBucket {
 public:
  // rate 0 = unlimited. burst_bytes: how much may go out back-to-back after an idle period.
  TokenBucket(double rate_bytes_per_s, double burst_bytes);

  // Takes `bytes` tokens at `now` (the balance may go negative) and returns how long the caller
  // must wait before sending them so the long-run rate stays at the cap. Zero when unlimited.
  Duration Reserve(size_t bytes, TimePoint now);
  double rate_bytes_per_s() const { return rate_; }
  // Changes the cap (runtime emulation); the balance is kept, clipped to the new burst.
  void SetRate(double rate_bytes_per_s, double burst_bytes);

 private:
  double rate_;
  double burst_;
  double tokens_;
  TimePoint last_{};
  bool started_ = false;
};

}  // namespace edgesplit::transport
