// Token sampling from logits (pure, no torch): greedy, temperature, top-k and top-p. The random
// draw for token i depends only on (seed, i), never on what ran before, so a session yields the
// same tokens whole, split at any cuts, or moved between nodes mid-stream.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/base/status.h"

namespace edgesplit {

struct SamplingParams {
  double temperature = 0;  // 0 = greedy (argmax; ties go to the lowest token id)
  int64_t top_k = 0;       // 0 = no limit
  double top_p = 1.0;      // nucleus mass in (0, 1]
  uint64_t seed = 0;
  // Names the offending field: temperature finite and in [0, 100], top_k in [0, 1e6],
  // top_p finite and in (0, 1].
  Status Validate() const;
};

// The uniform draw in [0, 1) for token `index` of a session seeded with `seed`.
double SampleUniform(uint64_t seed, uint64_t index);

// Picks the token for position `index` of the generated stream from `vocab` logits.
// Non-finite logits are treated as -infinity; if none is finite the result is token 0.
int64_t SampleToken(const float* logits, size_t vocab, const SamplingParams& params, uint64_t index);

}  // namespace edgesplit
