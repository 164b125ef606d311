#include "agent/transport/token_bucket.h"

#include <algorithm>

namespace edgesplit::transport {

TokenBucket::TokenBucket(double rate_bytes_per_s, double burst_bytes)
    : rate_(rate_bytes_per_s), burst_(burst_bytes), tokens_(burst_bytes) {}

Duration TokenBucket::Reserve(size_t bytes, TimePoint now) {
  if (rate_ <= 0) return Duration::zero();
  if (started_) {
    tokens_ = std::min(burst_, tokens_ + ToSeconds(now - last_) * rate_);
  }
  started_ = true;
  last_ = now;
  tokens_ -= static_cast<double>(bytes);
  if (tokens_ >= 0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / rate_));
}

void TokenBucket::SetRate(double rate_bytes_per_s, double burst_bytes) {
  if (rate_ <= 0) {
    tokens_ = burst_bytes;  // was unlimited: start with a full burst, as a new bucket does
    started_ = false;
  }
  rate_ = rate_bytes_per_s;
  burst_ = burst_bytes;
  tokens_ = std::min(tokens_, burst_);
}

}  // namespace edgesplit::transport
