#include "common/base/clock.h"

namespace edgesplit {
SteadyClock* SteadyClock::Default() {
  static SteadyClock clock;
  return &clock;
}
}  // namespace edgesplit
