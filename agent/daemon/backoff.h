// Jittered exponential backoff for reconnecting the control channel (pure: the caller passes
// the random number).
#pragma once

#include "common/base/clock.h"

namespace edgesplit::agent {

struct BackoffOptions {
  Duration min = std::chrono::milliseconds(200);
  Duration max = std::chrono::seconds(10);
};

// Delay before reconnect attempt `attempt` (0-based): min·2^attempt capped at max, scaled by a
// factor in [0.5, 1.0) from `jitter01` in [0, 1) so agents restarted together do not reconnect in
// lockstep.
Duration BackoffDelay(const BackoffOptions& o, int attempt, double jitter01);

}  // namespace edgesplit::agent
