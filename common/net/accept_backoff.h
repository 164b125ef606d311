// What an accept loop does when accept() fails because the process (EMFILE) or the system
// (ENFILE) is out of file descriptors. The pending connection stays in the listen queue, so
// the listener is readable again at once: retrying immediately spins a core at 100 % while
// nothing can be accepted. Instead the loop waits, doubling from `min` to `max`, and logs once
// per episode (the first failure, then the recovery). Pure: the caller sleeps and logs.
// Thread-compatible (one per accept loop).
#pragma once

#include <chrono>
#include <cstdint>

#include "common/base/clock.h"
#include "common/base/status.h"

namespace edgesplit::net {

struct AcceptBackoffOptions {
  Duration min = std::chrono::milliseconds(50);
  Duration max = std::chrono::milliseconds(500);
  Status Validate() const;
};

class AcceptBackoff {
 public:
  explicit AcceptBackoff(AcceptBackoffOptions options = {}) : options_(options) {}

  struct Step {
    Duration wait;        // sleep this long before accepting again
    bool episode_start;   // first failure since the last success: log it
  };
  // A descriptor-exhaustion failure.
  Step OnExhausted();
  // A connection was accepted. Returns the failures of the episode that just ended (0 if none):
  // non-zero means "recovered", worth one log line.
  uint64_t OnAccepted();
  bool in_episode() const { return failures_ > 0; }

 private:
  AcceptBackoffOptions options_;
  Duration next_{0};
  uint64_t failures_ = 0;
};

}  // namespace edgesplit::net
