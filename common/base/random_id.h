// Unpredictable 64-bit ids (request, session and incarnation ids): a peer that has seen some ids
// must not be able to guess the next one, so they come from the kernel's CSPRNG, never a counter
// or a seeded generator. Never 0 (0 means "none" on the wire). Thread-safe.
#pragma once

#include <cstdint>

namespace edgesplit {

uint64_t RandomId();

}  // namespace edgesplit
