#include "common/net/accept_backoff.h"

#include <algorithm>

namespace edgesplit::net {

Status AcceptBackoffOptions::Validate() const {
  if (min <= Duration::zero() || max < min) return InvalidArgument("accept backoff: need 0 < min <= max");
  return Status::Ok();
}

AcceptBackoff::Step AcceptBackoff::OnExhausted() {
  const bool start = failures_ == 0;
  if (start) next_ = options_.min;
  Step s{next_, start};
  next_ = std::min(options_.max, next_ * 2);
  ++failures_;
  return s;
}

uint64_t AcceptBackoff::OnAccepted() {
  const uint64_t n = failures_;
  failures_ = 0;
  return n;
}

}  // namespace edgesplit::net
