#include "common/base/random_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>

namespace edgesplit {

uint64_t RandomId() {
  for (;;) {
    uint64_t v = 0;
    ssize_t n = ::getrandom(&v, sizeof(v), 0);  // blocks only before the pool is initialised at boot
    if (n == static_cast<ssize_t>(sizeof(v)) && v != 0) return v;
    if (n < 0 && errno != EINTR) std::abort();  // no entropy source: nothing safe to do
  }
}

}  // namespace edgesplit
