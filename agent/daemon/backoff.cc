#include "agent/daemon/backoff.h"

#include <algorithm>

namespace edgesplit::agent {

Duration BackoffDelay(const BackoffOptions& o, int attempt, double jitter01) {
  double base = static_cast<double>(o.min.count());
  const double cap = static_cast<double>(o.max.count());
  for (int i = 0; i < attempt && base < cap; ++i) base *= 2;
  base = std::min(base, cap);
  jitter01 = std::clamp(jitter01, 0.0, 0.999999);
  return Duration(static_cast<Duration::rep>(base * (0.5 + 0.5 * jitter01)));
}

}  // namespace edgesplit::agent
